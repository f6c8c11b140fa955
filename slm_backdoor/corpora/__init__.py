"""Corpora: the eSpeak NG binding, synthetic corpora and real-corpus loaders."""
