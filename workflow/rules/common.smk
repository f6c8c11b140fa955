# Shared by every rule file: config checks, path resolution (one function per kind of
# artifact, so the `paper` profile can swap sources in one place), JSON params.
import functools
import re

import jsonschema
from snakemake.exceptions import WorkflowError

from slm_backdoor.checkpoints import resolve_checkpoint

checkpoint_dir = functools.lru_cache(lambda path: str(resolve_checkpoint(path)))

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


def corpus_splits(c: dict) -> list[str]:
    """A corpus section's splits: synthetic ones name them under `speakers`, real-corpus
    loaders always make train/dev/test."""
    return list(c["speakers"]) if c["source"] == "synthetic" else ["train", "dev", "test"]


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
        if c == PRETRAIN_CORPUS or "test" not in corpus_splits(corpora[c]):
            raise WorkflowError(f"invalid config: attacks.{task}.corpus: corpus {c!r} has no "
                                f"test split")
    for name, c in corpora.items():
        if name != PRETRAIN_CORPUS and "test" not in corpus_splits(c):
            raise WorkflowError(f"invalid config: corpora.{name}.speakers.test: missing "
                                f"(only the {PRETRAIN_CORPUS!r} corpus has no test split)")
        if name != PRETRAIN_CORPUS and c["kind"] == "pretrain":
            raise WorkflowError(f"invalid config: corpora.{name}.kind: only the "
                                f"{PRETRAIN_CORPUS!r} corpus is of kind 'pretrain'")
    for section in ("components", "defense", "separability"):
        for i, t in enumerate(cfg[section]["tasks"]):
            if t not in cfg["attacks"]:
                raise WorkflowError(f"invalid config: {section}.tasks.{i}: task {t!r} has no "
                                    f"attack (attacks: {', '.join(cfg['attacks'])})")
    for t, c in cfg["defense"]["cross"].items():
        if c not in corpora or c == PRETRAIN_CORPUS:
            raise WorkflowError(f"invalid config: defense.cross.{t}: unknown corpus {c!r}")
    check_models(cfg)


def encoder_families(cfg: dict) -> list[str]:
    """Every encoder family some study phase uses."""
    return sorted({f for section in (cfg, cfg["components"], cfg["defense"], cfg["separability"])
                   for f in section["encoders"]})


def check_models(cfg: dict) -> None:
    """Paper profile: every checkpoint used is named, found and pinned."""
    m = cfg["models"]
    if m["source"] != "paper":
        return
    needed = {"models.llm": m["llm"]}
    needed.update({f"models.encoders.{f}": m["encoders"].get(f) for f in encoder_families(cfg)})
    for key, ck in needed.items():
        if ck is None:
            raise WorkflowError(f"invalid config: {key}: missing (the paper profile names "
                                f"the checkpoint of every encoder it uses)")
        if not ck["sha256"]:
            raise WorkflowError(f"invalid config: {key}.sha256: not set; print it with "
                                f"python -m slm_backdoor.checkpoints {ck['path']}")
        try:
            resolve_checkpoint(ck["path"])
        except FileNotFoundError as e:
            raise WorkflowError(f"invalid config: {key}.path: {e}") from None


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


CONFIGS = ("1.E", "1.P", "1.L", "2.E", "2.P", "2.L", "3.E", "3.P", "3.L")  # T2 (docs/DESIGN.md s4)
DEFENSE_METHODS = ("full", "partial", "lora")
DEFENSE_STARTS = ("attack0", "3.E")


def config_run(cfg: str, task: str) -> str:
    """T2 run name: configuration 1.E on emotion -> "1E_emotion" (config 0 is attack0_TASK)."""
    return "attack0_" + task if cfg == "0" else f"{cfg.replace('.', '')}_{task}"


def defense_run(start: str, method: str, domain: str, task: str) -> str:
    """T3 run name: def_START_METHOD_DOMAIN_TASK, e.g. def_3E_partial_cross_emotion."""
    return f"def_{start.replace('.', '')}_{method}_{domain}_{task}"


def defense_domains(task: str) -> list[str]:
    """In-domain always; cross-dataset where defense.cross names a corpus for the task."""
    return ["in"] + (["cross"] if task in config["defense"]["cross"] else [])


def defense_corpus(task: str, domain: str) -> str:
    return corpus_of(task) if domain == "in" else config["defense"]["cross"][task]


def study_runs() -> list[str]:
    """Names of the SpeechLLM runs (models/runs/ENCODER/RUN): a clean multitask model per
    corpus, an Attack-0 model (everything trained on poisoned data) per task, the T2
    component configurations and the T3 defense runs of each task."""
    runs = [f"clean_{c}" for c in eval_corpora()] + [f"attack0_{t}" for t in tasks()]
    runs += [config_run(c, t) for c in CONFIGS for t in tasks()]
    runs += [defense_run(s, m, d, t) for s in DEFENSE_STARTS for m in DEFENSE_METHODS
             for t in tasks() for d in ("in", "cross")]
    return runs


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


def paper() -> bool:
    """The paper profile: public checkpoints, nothing pretrained or aligned here."""
    return config["models"]["source"] == "paper"


def llm_source() -> str:
    """Directory of the LLM (tokenizer + weights) every SpeechLLM is built on."""
    if paper():  # a local directory, or a hub id's snapshot in the local hub cache
        return checkpoint_dir(config["models"]["llm"]["path"])
    return "models/pretrained/llm"


def encoder_source(family: str) -> str:
    """Directory (or checkpoint) of the pretrained encoder of a family."""
    if paper():
        return checkpoint_dir(config["models"]["encoders"][family]["path"])
    return f"models/pretrained/encoder_{family}"


def checkpoint_pins() -> dict:
    """Paper profile: config key -> {path, sha256} of each external checkpoint; the stages
    refuse to load one whose sha256 differs (slm_backdoor.checkpoints.verify_pins)."""
    if not paper():
        return {}
    m = config["models"]
    pins = {"models.llm": {"path": llm_source(), "sha256": m["llm"]["sha256"]}}
    for family in encoder_families(config):
        pins[f"models.encoders.{family}"] = {"path": encoder_source(family),
                                             "sha256": m["encoders"][family]["sha256"]}
    return pins


def with_pins(params: dict) -> dict:
    """A stage's params, plus the checkpoint pins in the paper profile (tiny: unchanged)."""
    pins = checkpoint_pins()
    return {**params, "checkpoints": pins} if pins else params


def family_value(value, family: str):
    """A setting given once for every encoder family or per family ({wavlm: 15, ...})."""
    return value[family] if isinstance(value, dict) else value


def aligned_dir(family: str) -> str:
    """Connector + LoRA after alignment: every study run's "usual initialisation"."""
    return f"models/aligned/{family}"


def run_phase(run: str) -> str:
    """Where a run lives: "runs" (T1 clean / Attack-0), "components" (T2), "defense" (T3)."""
    if run.startswith("def_"):
        return "defense"
    return "runs" if run.startswith(("clean_", "attack0_")) else "components"


def run_dir(encoder: str, run: str) -> str:
    """A trained run: models/{runs,components,defense}/ENCODER/RUN (see run_phase)."""
    return f"models/{run_phase(run)}/{encoder}/{run}"


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

