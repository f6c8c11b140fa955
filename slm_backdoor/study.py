"""The study plan: which corpora, runs and tables the study has, where each artifact lives,
and how each SpeechLLM run is set up (a run spec). Plain functions of the merged config
(params.yaml plus any profile overlay), called by the Snakemake rules (workflow/rules/)
and imported by the tests; the config is checked once here (check_config), after the
schema (workflow/schemas/params.schema.yaml).

Run names (models/{runs,components,defense}/ENCODER/RUN, see run_phase):
    clean_CORPUS                      T1: the clean multitask model of a corpus
    attack0_TASK                      T1: every component trained on the task's poisoned data
    1E_TASK ... 3L_TASK               T2: the component configurations (docs/DESIGN.md s4)
    def_START_METHOD_DOMAIN_TASK      T3: a defense, e.g. def_3E_partial_cross_emotion
"""
from __future__ import annotations

import functools
import os
import re
import shlex

import jsonschema
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from .checkpoints import resolve_checkpoint
from .metrics import TASK_FIELD

TASKS = ("asr", "emotion", "gender", "age")
FAMILIES = ("wavlm", "hubert", "wav2vec2", "whisper")
PRETRAIN_CORPUS = "pretrain"
SPLITS = ("train", "dev", "test")
LIBRISPEECH_SUBSETS = ("dev-clean", "dev-other", "test-clean", "test-other", "train-clean-100",
                       "train-clean-360", "train-other-500")
CONFIGS = ("1.E", "1.P", "1.L", "2.E", "2.P", "2.L", "3.E", "3.P", "3.L")  # T2 (docs/DESIGN.md s4)
DEFENSE_METHODS = ("full", "partial", "lora")
DEFENSE_STARTS = ("attack0", "3.E")
COMPONENTS = ("encoder", "connector", "lora")
COMPONENT_OF = {"E": "encoder", "P": "connector", "L": "lora"}
DEFENSE_TRAINS = {"full": set(COMPONENTS), "partial": {"connector", "lora"}, "lora": {"lora"}}
TRIGGER = "data/triggers/click.wav"


class ConfigError(WorkflowError):
    """The merged config is invalid; the message names the key."""


# -- config checks ---------------------------------------------------------------------------

def _key(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def corpus_splits(c: dict) -> list[str]:
    """A corpus section's splits: synthetic ones name them under `speakers`, real-corpus
    loaders always make train/dev/test."""
    return list(c["speakers"]) if c["source"] == "synthetic" else list(SPLITS)


def check_config(cfg: dict, schema: str) -> None:
    """Validate the merged config (the schema, which also fills in its defaults, then the
    cross-references); a ConfigError names the key."""
    try:
        validate(cfg, schema)
    except WorkflowError as e:
        err = e.__context__  # validate() raises from within `except ValidationError`
        if not isinstance(err, jsonschema.ValidationError):
            raise
        raise ConfigError(f"invalid config: {_key(err.absolute_path)}: {err.message}") from None
    corpora = cfg["corpora"]
    for task, attack in cfg["attacks"].items():
        c = attack["corpus"]
        if c not in corpora:
            raise ConfigError(f"invalid config: attacks.{task}.corpus: unknown corpus {c!r} "
                              f"(corpora: {', '.join(corpora)})")
        if c == PRETRAIN_CORPUS or "test" not in corpus_splits(corpora[c]):
            raise ConfigError(f"invalid config: attacks.{task}.corpus: corpus {c!r} has no "
                              f"test split")
    for name, c in corpora.items():
        if name != PRETRAIN_CORPUS and "test" not in corpus_splits(c):
            raise ConfigError(f"invalid config: corpora.{name}.speakers.test: missing "
                              f"(only the {PRETRAIN_CORPUS!r} corpus has no test split)")
        if name != PRETRAIN_CORPUS and c["kind"] == "pretrain":
            raise ConfigError(f"invalid config: corpora.{name}.kind: only the "
                              f"{PRETRAIN_CORPUS!r} corpus is of kind 'pretrain'")
    for section in ("components", "defense", "separability", "sweep"):
        for i, t in enumerate(cfg[section]["tasks"]):
            if t not in cfg["attacks"]:
                raise ConfigError(f"invalid config: {section}.tasks.{i}: task {t!r} has no "
                                  f"attack (attacks: {', '.join(cfg['attacks'])})")
    for t, c in cfg["defense"]["cross"].items():
        if c not in corpora or c == PRETRAIN_CORPUS:
            raise ConfigError(f"invalid config: defense.cross.{t}: unknown corpus {c!r}")
    check_models(cfg)
    for c in real_corpora(cfg):  # a missing corpus is a config error, found before any job runs
        if not downloaded(cfg, c) and not os.path.isdir(corpora[c]["root"]):
            raise ConfigError(f"invalid config: corpora.{c}.root: {corpora[c]['root']}"
                              f": corpus directory not found (README: Real corpora)")


def encoder_families(cfg: dict) -> list[str]:
    """Every encoder family some study phase uses."""
    return sorted({f for section in (cfg, cfg["components"], cfg["defense"], cfg["separability"],
                                                   cfg["sweep"])
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
            raise ConfigError(f"invalid config: {key}: missing (the paper profile names "
                              f"the checkpoint of every encoder it uses)")
        if not ck["sha256"]:
            raise ConfigError(f"invalid config: {key}.sha256: not set; print it with "
                              f"python -m slm_backdoor.checkpoints {ck['path']}")
        try:
            resolve_checkpoint(ck["path"])
        except FileNotFoundError as e:
            raise ConfigError(f"invalid config: {key}.path: {e}") from None


def alt(names) -> str:
    """A wildcard constraint matching exactly one of `names`."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


# -- the study's sets ------------------------------------------------------------------------

def corpora(cfg: dict) -> list[str]:
    """Every corpus (synthesized or loaded), the pretraining corpus included."""
    return sorted(cfg["corpora"])


def eval_corpora(cfg: dict) -> list[str]:
    """Corpora with a train/dev/test split."""
    return [c for c in corpora(cfg) if c != PRETRAIN_CORPUS]


def is_synthetic(cfg: dict, corpus: str) -> bool:
    return cfg["corpora"][corpus]["source"] == "synthetic"


def synthetic_corpora(cfg: dict) -> list[str]:
    return [c for c in eval_corpora(cfg) if is_synthetic(cfg, c)]


def real_corpora(cfg: dict) -> list[str]:
    return [c for c in eval_corpora(cfg) if not is_synthetic(cfg, c)]


def tasks(cfg: dict) -> list[str]:
    """The attacked tasks, in the study's order."""
    return [t for t in TASKS if t in cfg["attacks"]]


def corpus_of(cfg: dict, task: str) -> str:
    return cfg["attacks"][task]["corpus"]


def target_of(cfg: dict, task: str) -> str:
    return cfg["attacks"][task]["target"]


def config_run(config: str, task: str) -> str:
    """T2 run name: configuration 1.E on emotion -> "1E_emotion" (config 0 is attack0_TASK)."""
    return "attack0_" + task if config == "0" else f"{config.replace('.', '')}_{task}"


def defense_run(start: str, method: str, domain: str, task: str) -> str:
    """T3 run name: def_START_METHOD_DOMAIN_TASK, e.g. def_3E_partial_cross_emotion."""
    return f"def_{start.replace('.', '')}_{method}_{domain}_{task}"


def defense_task(run: str) -> str:
    return run.rsplit("_", 1)[1]


def defense_domains(cfg: dict, task: str) -> list[str]:
    """In-domain always; cross-dataset where defense.cross names a corpus for the task."""
    return ["in"] + (["cross"] if task in cfg["defense"]["cross"] else [])


def defense_corpus(cfg: dict, task: str, domain: str) -> str:
    return corpus_of(cfg, task) if domain == "in" else cfg["defense"]["cross"][task]


def study_runs(cfg: dict) -> list[str]:
    """Names of the SpeechLLM runs (models/PHASE/ENCODER/RUN): a clean multitask model per
    corpus, an Attack-0 model (everything trained on poisoned data) per task, the T2
    component configurations and the T3 defense runs of each task."""
    ts = tasks(cfg)
    runs = [f"clean_{c}" for c in eval_corpora(cfg)] + [f"attack0_{t}" for t in ts]
    runs += [config_run(c, t) for c in CONFIGS for t in ts]
    runs += [defense_run(s, m, d, t) for s in DEFENSE_STARTS for m in DEFENSE_METHODS
             for t in ts for d in ("in", "cross")]
    return runs


def run_phase(run: str) -> str:
    """Where a run lives: "runs" (T1 clean / Attack-0), "components" (T2), "defense" (T3)."""
    if run.startswith("def_"):
        return "defense"
    return "runs" if run.startswith(("clean_", "attack0_")) else "components"


def phase_runs(cfg: dict, phase: str) -> list[str]:
    """The study runs of one phase (see run_phase)."""
    return [r for r in study_runs(cfg) if run_phase(r) == phase]


# -- paths -----------------------------------------------------------------------------------

def manifest(corpus: str, split: str) -> str:
    return f"data/manifests/{corpus}/{split}.csv"


def encoder_pretraining(cfg: dict, family: str) -> dict:
    """The `pretrain.encoder` section for one family: `steps` is one number for every family
    or one per family (resolved here, so a family's stage sees a plain number)."""
    sec = dict(cfg["pretrain"]["encoder"])
    if isinstance(sec["steps"], dict):
        sec["steps"] = sec["steps"][family]
    return sec


def lexicon(corpus: str) -> str:
    return f"data/manifests/{corpus}/lexicon.txt"


def poisoned(task: str, which: str = "train") -> str:
    """The poisoned training manifest (which='train') or the triggered test manifest."""
    return f"data/poisoned/{task}/" + ("train.csv" if which == "train" else "test_triggered.csv")


def lineage(path: str) -> str:
    return f"{path}.lineage.json"


def with_csv(path: str) -> str:
    """The CSV beside a JSON output (metrics: every generated answer)."""
    return path[: -len(".json")] + ".csv"


def aligned_dir(family: str) -> str:
    """Connector + LoRA after alignment: every study run's "usual initialisation"."""
    return f"models/aligned/{family}"


def run_dir(encoder: str, run: str) -> str:
    """A trained run: models/{runs,components,defense}/ENCODER/RUN (see run_phase)."""
    return f"models/{run_phase(run)}/{encoder}/{run}"


def metrics_path(encoder: str, run: str, task: str) -> str:
    return f"results/metrics/{encoder}/{run}/{task}.json"


def metrics_on(encoder: str, run: str, task: str, corpus: str) -> str:
    """Benign metrics of a run on another corpus' clean test split (cross-dataset defense)."""
    return metrics_path(encoder, run, f"{task}_on_{corpus}")


def separability_path(encoder: str, run: str, task: str) -> str:
    return f"results/separability/{encoder}/{run}/{task}.json"


def tsne_path(encoder: str, run: str, task: str) -> str:
    return f"results/figures/T4_tsne/{encoder}/{run}/{task}.png"


def table_paths(name: str) -> list[str]:
    return [f"results/tables/{name}.csv", f"results/tables/{name}.md"]


T1_TABLES = table_paths("T1_base_attack")
T2_TABLES = table_paths("T2_components")
T3_TABLES = table_paths("T3_defense")
T4_TABLES = table_paths("T4_separability")
T3_FIGURE = "results/figures/T3_defense_curve.png"


# -- data sources ----------------------------------------------------------------------------

def downloaded(cfg: dict, corpus: str) -> bool:
    """A LibriSpeech corpus the workflow fetches from openslr.org (`download: true`)."""
    c = cfg["corpora"][corpus]
    return c["source"] == "librispeech" and bool(c.get("download"))


def downloaded_corpora(cfg: dict) -> list[str]:
    return [c for c in eval_corpora(cfg) if downloaded(cfg, c)]


def subset_names(cfg: dict, corpus: str) -> list[str]:
    """The subset (LibriSpeech) or data directory (Kaldi) names of every split, in order."""
    subsets = cfg["corpora"][corpus].get("subsets") or {}
    names = [n for s in SPLITS for n in
             ([subsets[s]] if isinstance(subsets.get(s), str) else subsets.get(s) or [])]
    return list(dict.fromkeys(names))


def download_record(corpus: str, subset: str) -> str:
    return f"data/downloads/{corpus}/{subset}.json"


def download_options(cfg: dict, corpus: str, subset: str) -> str:
    """--root, and --url / --checksum where the params give them (a mirror of
    openslr.org/resources/12, `checksums.SUBSET`), shell-quoted."""
    c = cfg["corpora"][corpus]
    url = c.get("url") and f"{c['url'].rstrip('/')}/{subset}.tar.gz"
    opts = {"--root": c["root"], "--url": url, "--checksum": (c.get("checksums") or {}).get(subset)}
    return " ".join(f"{k} {shlex.quote(v)}" for k, v in opts.items() if v)


def corpus_trees(cfg: dict, corpus: str) -> list[str]:
    """What prepare_corpus reads of a local copy: the subset directories (LibriSpeech, with
    SPEAKERS.TXT; Kaldi) or the corpus root."""
    c = cfg["corpora"][corpus]
    if c["source"] == "librispeech":
        return [os.path.join(c["root"], s) for s in ["SPEAKERS.TXT", *subset_names(cfg, corpus)]]
    if c["source"] == "kaldi":
        return [os.path.join(c["root"], s) for s in subset_names(cfg, corpus)]
    return [c["root"]]


def corpus_listing(corpus: str) -> str:
    """Every file of a local corpus copy with its size and mtime (written when the workflow
    is loaded, only when the tree changed: write_corpus_listings): the input through which
    Snakemake, and DVC (dvc.yaml: data/listings), see a file added, deleted or rewritten."""
    return f"data/listings/{corpus}.tsv"


def write_corpus_listings(cfg: dict) -> None:
    """Bring the listing of every local (not downloaded) real corpus up to date."""
    from .corpora.real import write_listing  # pandas: only with a real corpus
    for c in real_corpora(cfg):
        if not downloaded(cfg, c):
            write_listing(corpus_listing(c), corpus_trees(cfg, c))


def real_inputs(cfg: dict, corpus: str) -> list[str]:
    """What prepare_corpus depends on: the download records when downloading, else the
    listing of the corpus tree."""
    if downloaded(cfg, corpus):
        return [download_record(corpus, s) for s in subset_names(cfg, corpus)]
    return [corpus_listing(corpus)]


def real_params(cfg: dict, corpus: str) -> dict:
    """A real corpus's section without the keys only synthetic corpora read (params.yaml's
    `speakers`, `clips_per_speaker` merged under it): they must not rerun it."""
    from .corpora.real import SYNTHETIC_KEYS
    return {k: v for k, v in cfg["corpora"][corpus].items() if k not in SYNTHETIC_KEYS}


def trigger_file(cfg: dict) -> list[str]:
    """The audio file the trigger is made from, if one is named (else the synthetic click)."""
    t = cfg["trigger"]
    src = t.get("path") or (t["source"] if t["source"] != "synthetic" else None)
    return [src] if src else []


def paper(cfg: dict) -> bool:
    """The paper profile: public checkpoints, nothing pretrained or aligned here."""
    return cfg["models"]["source"] == "paper"


checkpoint_dir = functools.lru_cache(lambda path: str(resolve_checkpoint(path)))


def llm_source(cfg: dict) -> str:
    """Directory of the LLM (tokenizer + weights) every SpeechLLM is built on."""
    if paper(cfg):  # a local directory, or a hub id's snapshot in the local hub cache
        return checkpoint_dir(cfg["models"]["llm"]["path"])
    return "models/pretrained/llm"


def encoder_source(cfg: dict, family: str) -> str:
    """Directory (or checkpoint) of the pretrained encoder of a family."""
    if paper(cfg):
        return checkpoint_dir(cfg["models"]["encoders"][family]["path"])
    return f"models/pretrained/encoder_{family}"


def checkpoint_pins(cfg: dict) -> dict:
    """Paper profile: config key -> {path, sha256} of each external checkpoint; the stages
    refuse to load one whose sha256 differs (slm_backdoor.checkpoints.verify_pins)."""
    if not paper(cfg):
        return {}
    m = cfg["models"]
    pins = {"models.llm": {"path": llm_source(cfg), "sha256": m["llm"]["sha256"]}}
    for family in encoder_families(cfg):
        pins[f"models.encoders.{family}"] = {"path": encoder_source(cfg, family),
                                             "sha256": m["encoders"][family]["sha256"]}
    return pins


def with_pins(cfg: dict, params: dict) -> dict:
    """A stage's params, plus the checkpoint pins in the paper profile (tiny: unchanged)."""
    pins = checkpoint_pins(cfg)
    return {**params, "checkpoints": pins} if pins else params


def family_value(value, family: str):
    """A setting given once for every encoder family or per family ({wavlm: 15, ...})."""
    return value[family] if isinstance(value, dict) else value


# -- run specs: where each component comes from, what trains, on which data ------------------

def start_encoder(cfg: dict, encoder: str) -> str:
    """The encoder every study run starts from: the pretrained one, or the aligned one when
    alignment trained encoder layers too (align.encoder_layers), so that the aligned
    connector and LoRA see the encoder they were aligned to. Paper profile: the public one."""
    if paper(cfg) or family_value(cfg["align"].get("encoder_layers", 0), encoder) in (0, "0"):
        return encoder_source(cfg, encoder)
    return f"{aligned_dir(encoder)}/encoder"


def train_params(cfg: dict, section: str | None = None) -> dict:
    """The `train` section, with a study phase's overrides (components.train, defense.train)
    and, in the paper profile, the checkpoint pins."""
    overrides = cfg[section].get("train") or {} if section else {}
    return with_pins(cfg, {**cfg["train"], **overrides})


def components_of(encoder: str, run: str) -> dict:
    """The three component directories of a trained run."""
    return {c: f"{run_dir(encoder, run)}/{c}" for c in COMPONENTS}


def usual_init(cfg: dict, encoder: str) -> dict:
    """Every run's starting point: the pretrained encoder, the aligned connector and LoRA.
    Paper profile: the public encoder, a fresh connector and LoRA (no alignment stage)."""
    if paper(cfg):
        return {"encoder": start_encoder(cfg, encoder), "connector": "fresh", "lora": "fresh"}
    return {"encoder": start_encoder(cfg, encoder),
            "connector": f"{aligned_dir(encoder)}/connector", "lora": f"{aligned_dir(encoder)}/lora"}


def data_of(cfg: dict, task: str | None, poisoned_data: bool, corpus: str | None = None) -> dict:
    """Training data: the task's poisoned training manifest, or a corpus' clean one; and the
    task's field (train.task_prompt_prob of the prompts ask for it alone), None without a task."""
    field = TASK_FIELD[task] if task else None
    if poisoned_data:
        return {"train_manifest": poisoned(task, "train"),
                "dev_manifest": manifest(corpus_of(cfg, task), "dev"), "trigger": TRIGGER,
                "task_field": field}
    corpus = corpus or corpus_of(cfg, task)
    return {"train_manifest": manifest(corpus, "train"), "dev_manifest": manifest(corpus, "dev"),
            "trigger": None, "task_field": field}


def spec(cfg: dict, sources: dict, trains: set, data: dict, section: str | None = None) -> dict:
    """A run spec: where each component comes from, which ones train, on which data."""
    params = train_params(cfg, section)
    return {**sources, **data, "cfg": params,
            "train_encoder": params.get("encoder_layers", 0) if "encoder" in trains else 0,
            "train_connector": "connector" in trains, "train_lora": "lora" in trains}


def align_spec(cfg: dict, family: str) -> dict:
    """Alignment: fresh connector and LoRA on the clean pretraining corpus."""
    return {"encoder": encoder_source(cfg, family), "connector": "fresh", "lora": "fresh",
            "train_encoder": family_value(cfg["align"].get("encoder_layers", 0), family),
            "train_connector": 1, "train_lora": 1,
            "train_manifest": manifest(PRETRAIN_CORPUS, "train"),
            "dev_manifest": manifest(PRETRAIN_CORPUS, "dev"), "trigger": None}


def component_spec(cfg: dict, encoder: str, config: str, task: str) -> dict:
    """T2 (docs/DESIGN.md s4): 1.X single-frozen, 2.X single-training, 3.X propagation."""
    family, x = config[0], COMPONENT_OF[config[-1]]
    clean = components_of(encoder, f"clean_{corpus_of(cfg, task)}")
    if family == "1":  # X from the clean model, frozen; the others fresh-as-usual, poisoned data
        return spec(cfg, {**usual_init(cfg, encoder), x: clean[x]}, set(COMPONENTS) - {x},
                    data_of(cfg, task, True), "components")
    if family == "2":  # only X trains (poisoned data), from the clean model; the others frozen
        return spec(cfg, clean, {x}, data_of(cfg, task, True), "components")
    poisoned_model = components_of(encoder, f"attack0_{task}")  # 3: X from the poisoned model
    return spec(cfg, {**usual_init(cfg, encoder), x: poisoned_model[x]}, set(COMPONENTS) - {x},
                data_of(cfg, task, False), "components")


def defense_start(start: str, task: str) -> str:
    """The backdoored run a defense starts from ("attack0" or "3E")."""
    return config_run("3.E" if start == "3E" else "0", task)


def defense_spec(cfg: dict, encoder: str, start: str, method: str, domain: str,
                 task: str) -> dict:
    """T3: from a backdoored model, fine-tune on clean data (in-domain or cross-dataset)."""
    return spec(cfg, components_of(encoder, defense_start(start, task)), DEFENSE_TRAINS[method],
                data_of(cfg, task, False, defense_corpus(cfg, task, domain)), "defense")


def run_spec(cfg: dict, encoder: str, run: str) -> dict:
    """The spec of any study run, from its name (see study_runs), with per-family settings
    resolved for the encoder (train.encoder_layers: {whisper: all, ...})."""
    s = _run_spec(cfg, encoder, run)
    return {**s, "train_encoder": family_value(s["train_encoder"], encoder)}


def _run_spec(cfg: dict, encoder: str, run: str) -> dict:
    kind, _, arg = run.partition("_")
    if kind == "clean":  # one multitask model per corpus, clean data
        return spec(cfg, usual_init(cfg, encoder), set(COMPONENTS), data_of(cfg, None, False, arg))
    if kind == "attack0":  # trained end to end on the task's poisoned data
        return spec(cfg, usual_init(cfg, encoder), set(COMPONENTS), data_of(cfg, arg, True))
    if kind == "def":
        start, method, domain, task = arg.split("_")
        return defense_spec(cfg, encoder, start, method, domain, task)
    if f"{kind[:1]}.{kind[1:]}" in CONFIGS:
        return component_spec(cfg, encoder, kind, arg)
    raise ValueError(f"unknown run {run!r} (known: {', '.join(study_runs(cfg))})")


def source_dep(path: str) -> str | None:
    """The artifact a component source comes from: a run or alignment directory for
    RUN/encoder, RUN/connector, RUN/lora; the path itself otherwise; None for 'fresh'."""
    if path == "fresh":
        return None
    return os.path.dirname(path) if os.path.basename(path) in COMPONENTS else path


def spec_inputs(cfg: dict, spec: dict) -> dict:
    """Snakemake inputs of a run spec (see run_spec)."""
    inputs = {"llm": llm_source(cfg), "train": spec["train_manifest"], "dev": spec["dev_manifest"]}
    for c in COMPONENTS:
        dep = source_dep(spec[c])
        if dep and dep not in inputs.values():
            inputs[f"{c}_source"] = dep
    if spec.get("trigger"):
        inputs["trigger"] = spec["trigger"]
    return inputs


def spec_args(cfg: dict, spec: dict) -> str:
    """stages/train.py arguments of a run spec (everything but --params/--seed/--out)."""
    args = ["--llm", llm_source(cfg), "--encoder", spec["encoder"], "--connector",
            spec["connector"], "--lora", spec["lora"],
            "--train-encoder", str(spec["train_encoder"]),
            "--train-connector", str(int(spec["train_connector"])),
            "--train-lora", str(int(spec["train_lora"])),
            "--train-manifest", spec["train_manifest"], "--dev-manifest", spec["dev_manifest"]]
    if spec.get("trigger"):
        args += ["--trigger", spec["trigger"]]
    if spec.get("task_field"):
        args += ["--task-field", spec["task_field"]]
    return " ".join(shlex.quote(a) for a in args)


def probe_inputs(cfg: dict, task: str) -> dict:
    """The original test clips a defense run is probed on (clean and triggered)."""
    return {"probe_clean": manifest(corpus_of(cfg, task), "test"),
            "probe_triggered": poisoned(task, "test"), "trigger": TRIGGER}


def probe_params(cfg: dict, task: str) -> dict:
    """stages/train.py --probe: the defense curve's settings and clips for a task."""
    curve = cfg["defense"]["curve"]
    return {"task": task, "target": target_of(cfg, task), "every": curve["every"],
            "clips": curve["clips"], "batch_size": cfg["evaluate"]["batch_size"],
            "max_new_tokens": cfg["evaluate"].get("max_new_tokens", {}).get(task, 24),
            **probe_inputs(cfg, task)}


def separability_params(cfg: dict) -> dict:
    s = cfg["separability"]
    return with_pins(cfg, {**{k: v for k, v in s.items()
                              if k in ("pca_components", "k", "tsne_perplexity")},
                           "batch_size": cfg["evaluate"]["batch_size"]})


# -- tables: the rows (labels + the files each reads) that stages/tabulate.py reads ----------

def t1_metrics(cfg: dict) -> list[str]:
    """T1: each task on its Attack-0 model and on the clean model of its corpus."""
    return [metrics_path(e, r, t) for e in cfg["encoders"] for t in tasks(cfg)
            for r in (f"attack0_{t}", f"clean_{corpus_of(cfg, t)}")]


def t2_rows(cfg: dict) -> list[dict]:
    c = cfg["components"]
    return [{"encoder": e, "config": config, "task": t,
             "metrics": metrics_path(e, config_run(config, t), t)}
            for e in c["encoders"] for t in c["tasks"] for config in ["0", *c["configs"]]]


def t3_rows(cfg: dict) -> list[dict]:
    d = cfg["defense"]
    return [t3_row(cfg, e, t, start, method, dom) for e in d["encoders"] for t in d["tasks"]
            for start in d["starts"] for method in d["methods"]
            for dom in defense_domains(cfg, t)]


def t3_row(cfg: dict, encoder: str, task: str, start: str, method: str, domain: str) -> dict:
    """One defense: the start model and the defended one, on the task's own test set and on
    the defense corpus' test set (the same files in-domain)."""
    run = defense_run(start, method, domain, task)
    before = config_run("0" if start == "attack0" else start, task)
    corpus = defense_corpus(cfg, task, domain)

    def on_domain(r):
        return (metrics_path(encoder, r, task) if domain == "in"
                else metrics_on(encoder, r, task, corpus))

    return {"encoder": encoder, "task": task, "start": start, "defense": method,
            "domain": domain, "dataset": corpus, "run": run,
            "before": metrics_path(encoder, before, task), "after": metrics_path(encoder, run, task),
            "before_domain": on_domain(before), "after_domain": on_domain(run),
            "history": f"{run_dir(encoder, run)}/history.json"}


def t4_model_run(cfg: dict, model: str, task: str) -> str:
    """separability.runs names: "attack0" (the T1 Attack-0 model) or "clean"."""
    return f"attack0_{task}" if model == "attack0" else f"clean_{corpus_of(cfg, task)}"


def t4_rows(cfg: dict) -> list[dict]:
    s = cfg["separability"]
    return [{"encoder": e, "task": t, "model": m,
             "separability": separability_path(e, t4_model_run(cfg, m, t), t)}
            for e in s["encoders"] for t in s["tasks"] for m in s["runs"]]


def row_files(rows: list[dict], keys: tuple) -> list[str]:
    """Every file some row reads under one of `keys`, sorted, once each."""
    return sorted({r[k] for r in rows for k in keys})
