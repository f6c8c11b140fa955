"""Audio backdoors in cascaded speech language models: the study's library."""
__version__ = "0.1.0"
