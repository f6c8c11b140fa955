# Shared by every rule file: config checks, path resolution (one function per kind of
# artifact, so the `paper` profile can swap sources in one place), JSON params.
import re

import jsonschema
from snakemake.exceptions import WorkflowError

SCHEMA = os.path.join(workflow.basedir, "workflow", "schemas", "params.schema.yaml")
TASKS = ("asr", "emotion", "gender", "age")
FAMILIES = ("wavlm", "hubert", "wav2vec2", "whisper")
PRETRAIN_CORPUS = "pretrain"

# The stage CLIs, run with this interpreter (the venv's when snakemake is .venv/bin/snakemake).
PY = shlex.quote(sys.executable)
_stages = os.path.join(workflow.basedir, "stages")
STAGES = shlex.quote(_stages if os.path.relpath(_stages).startswith("..") else os.path.relpath(_stages))
# Every job: its thread budget for torch/BLAS (the stages read SLM_THREADS).
ENV = ("export SLM_THREADS={threads} OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} "
       "TOKENIZERS_PARALLELISM=false; ")


def js(obj) -> str:
    """A params value for the shell: the JSON of a config section, shell-quoted."""
    return shlex.quote(json.dumps(obj))


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def check_config(cfg: dict) -> None:
    """Validate the merged config (schema, then cross-references); errors name the key."""
    try:
        validate(cfg, SCHEMA)
    except WorkflowError as e:
        err = e.__context__  # validate() raises from within `except ValidationError`
        if not isinstance(err, jsonschema.ValidationError):
            raise
        raise WorkflowError(f"invalid config: {_key(err.absolute_path)}: {err.message}") from None
    corpora = cfg["corpora"]
    for task, attack in cfg["attacks"].items():
        c = attack["corpus"]
        if c not in corpora:
            raise WorkflowError(f"invalid config: attacks.{task}.corpus: unknown corpus {c!r} "
                                f"(corpora: {', '.join(corpora)})")
        if c == PRETRAIN_CORPUS or "test" not in corpora[c]["speakers"]:
            raise WorkflowError(f"invalid config: attacks.{task}.corpus: corpus {c!r} has no "
                                f"test split")
    for name, c in corpora.items():
        if name != PRETRAIN_CORPUS and "test" not in c["speakers"]:
            raise WorkflowError(f"invalid config: corpora.{name}.speakers.test: missing "
                                f"(only the {PRETRAIN_CORPUS!r} corpus has no test split)")
        if name != PRETRAIN_CORPUS and c["kind"] == "pretrain":
            raise WorkflowError(f"invalid config: corpora.{name}.kind: only the "
                                f"{PRETRAIN_CORPUS!r} corpus is of kind 'pretrain'")
    if cfg["models"]["source"] != "tiny":
        raise WorkflowError("invalid config: models.source: only 'tiny' is wired so far "
                            "(the 'paper' checkpoints come with issue 4)")


def alt(names) -> str:
    """A wildcard constraint matching exactly one of `names`."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


# -- the study's sets -----------------------------------------------------------------------

def corpora() -> list[str]:
    """Every corpus (synthesized or loaded), the pretraining corpus included."""
    return sorted(config["corpora"])


def eval_corpora() -> list[str]:
    """Corpora with a train/dev/test split."""
    return [c for c in corpora() if c != PRETRAIN_CORPUS]


def tasks() -> list[str]:
    """The attacked tasks, in the study's order."""
    return [t for t in TASKS if t in config["attacks"]]


def study_runs() -> list[str]:
    """Names of the SpeechLLM runs (models/runs/ENCODER/RUN): a clean multitask model per
    corpus, an Attack-0 model (everything trained on poisoned data) per task."""
    return [f"clean_{c}" for c in eval_corpora()] + [f"attack0_{t}" for t in tasks()]


def corpus_of(task: str) -> str:
    return config["attacks"][task]["corpus"]


def target_of(task: str) -> str:
    return config["attacks"][task]["target"]


# -- paths ----------------------------------------------------------------------------------

TRIGGER = "data/triggers/click.wav"


def manifest(corpus: str, split: str) -> str:
    return f"data/manifests/{corpus}/{split}.csv"


def poisoned(task: str, which: str = "train") -> str:
    """The poisoned training manifest (which='train') or the triggered test manifest."""
    return f"data/poisoned/{task}/" + ("train.csv" if which == "train" else "test_triggered.csv")


def llm_source() -> str:
    """Directory of the LLM (tokenizer + weights) every SpeechLLM is built on."""
    if config["models"]["source"] == "tiny":
        return "models/pretrained/llm"
    raise WorkflowError("models.source: only 'tiny' is wired so far")


def encoder_source(family: str) -> str:
    """Directory (or checkpoint) of the pretrained encoder of a family."""
    if config["models"]["source"] == "tiny":
        return f"models/pretrained/encoder_{family}"
    raise WorkflowError("models.source: only 'tiny' is wired so far")


def aligned_dir(family: str) -> str:
    """Connector + LoRA after alignment: every study run's "usual initialisation"."""
    return f"models/aligned/{family}"


def run_dir(encoder: str, run: str) -> str:
    return f"models/runs/{encoder}/{run}"


def metrics_path(encoder: str, run: str, task: str) -> str:
    return f"results/metrics/{encoder}/{run}/{task}.json"


def lineage(path: str) -> str:
    return f"{path}.lineage.json"


def t1_metrics() -> list[str]:
    """T1: each task on its Attack-0 model and on the clean model of its corpus."""
    return [metrics_path(e, r, t) for e in config["encoders"] for t in tasks()
            for r in (f"attack0_{t}", f"clean_{corpus_of(t)}")]


T1_CSV = "results/tables/T1_base_attack.csv"
T1_TABLES = [T1_CSV, T1_CSV[: -len(".csv")] + ".md"]

