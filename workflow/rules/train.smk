# Phase 5, component-wise training: SpeechLLMs trained from the aligned starting point.
# T1: the clean multitask model of each corpus and the Attack-0 model of each task (every
# component trains); T2: the component configurations 1.X / 2.X / 3.X (docs/DESIGN.md s4).
# A run is described by a spec (run_spec): where each component comes from, which
# components train, on which data, with which training parameters.


def start_encoder(encoder: str) -> str:
    """The encoder every study run starts from: the pretrained one, or the aligned one when
    alignment trained encoder layers too (align.encoder_layers), so that the aligned
    connector and LoRA see the encoder they were aligned to. Paper profile: the public one."""
    if paper() or family_value(config["align"].get("encoder_layers", 0), encoder) in (0, "0"):
        return encoder_source(encoder)
    return f"{aligned_dir(encoder)}/encoder"


def train_params(section: str | None = None) -> dict:
    """The `train` section, with a study phase's overrides (components.train, defense.train)
    and, in the paper profile, the checkpoint pins."""
    return with_pins({**config["train"], **(config[section].get("train") or {} if section else {})})


def components_of(encoder: str, run: str) -> dict:
    """The three component directories of a trained run."""
    return {c: f"{run_dir(encoder, run)}/{c}" for c in COMPONENTS}


def usual_init(encoder: str) -> dict:
    """Every run's starting point: the pretrained encoder, the aligned connector and LoRA.
    Paper profile: the public encoder, a fresh connector and LoRA (no alignment stage)."""
    if paper():
        return {"encoder": start_encoder(encoder), "connector": "fresh", "lora": "fresh"}
    return {"encoder": start_encoder(encoder), "connector": f"{aligned_dir(encoder)}/connector",
            "lora": f"{aligned_dir(encoder)}/lora"}


def data_of(task: str, poisoned_data: bool, corpus: str | None = None) -> dict:
    """Training data: the task's poisoned training manifest, or a corpus' clean one."""
    if poisoned_data:
        return {"train_manifest": poisoned(task, "train"),
                "dev_manifest": manifest(corpus_of(task), "dev"), "trigger": TRIGGER}
    corpus = corpus or corpus_of(task)
    return {"train_manifest": manifest(corpus, "train"), "dev_manifest": manifest(corpus, "dev"),
            "trigger": None}


def spec(sources: dict, trains: set, data: dict, section: str | None = None) -> dict:
    """A run spec: where each component comes from, which ones train, on which data."""
    cfg = train_params(section)
    return {**sources, **data, "cfg": cfg,
            "train_encoder": cfg.get("encoder_layers", 0) if "encoder" in trains else 0,
            "train_connector": "connector" in trains, "train_lora": "lora" in trains}


COMPONENT_OF = {"E": "encoder", "P": "connector", "L": "lora"}


def component_spec(encoder: str, cfg: str, task: str) -> dict:
    """T2 (docs/DESIGN.md s4): 1.X single-frozen, 2.X single-training, 3.X propagation."""
    family, x = cfg[0], COMPONENT_OF[cfg[-1]]
    clean = components_of(encoder, f"clean_{corpus_of(task)}")
    if family == "1":  # X from the clean model, frozen; the others fresh-as-usual, poisoned data
        return spec({**usual_init(encoder), x: clean[x]}, set(COMPONENTS) - {x},
                    data_of(task, True), "components")
    if family == "2":  # only X trains (poisoned data), from the clean model; the others frozen
        return spec(clean, {x}, data_of(task, True), "components")
    poisoned_model = components_of(encoder, f"attack0_{task}")  # 3: X from the poisoned model
    return spec({**usual_init(encoder), x: poisoned_model[x]}, set(COMPONENTS) - {x},
                data_of(task, False), "components")


DEFENSE_TRAINS = {"full": set(COMPONENTS), "partial": {"connector", "lora"}, "lora": {"lora"}}


def defense_start(start: str, task: str) -> str:
    """The backdoored run a defense starts from ("attack0" or "3E")."""
    return config_run("3.E" if start == "3E" else "0", task)


def defense_spec(encoder: str, start: str, method: str, domain: str, task: str) -> dict:
    """T3: from a backdoored model, fine-tune on clean data (in-domain or cross-dataset)."""
    return spec(components_of(encoder, defense_start(start, task)), DEFENSE_TRAINS[method],
                data_of(task, False, defense_corpus(task, domain)), "defense")


def run_spec(encoder: str, run: str) -> dict:
    """The spec of any study run, from its name (see study_runs), with per-family settings
    resolved for the encoder (train.encoder_layers: {whisper: all, ...})."""
    s = _run_spec(encoder, run)
    return {**s, "train_encoder": family_value(s["train_encoder"], encoder)}


def _run_spec(encoder: str, run: str) -> dict:
    kind, _, arg = run.partition("_")
    if kind == "clean":  # one multitask model per corpus, clean data
        return spec(usual_init(encoder), set(COMPONENTS), data_of(None, False, arg))
    if kind == "attack0":  # trained end to end on the task's poisoned data
        return spec(usual_init(encoder), set(COMPONENTS), data_of(arg, True))
    if kind == "def":
        start, method, domain, task = arg.split("_")
        return defense_spec(encoder, start, method, domain, task)
    if f"{kind[:1]}.{kind[1:]}" in CONFIGS:
        return component_spec(encoder, kind, arg)
    raise WorkflowError(f"unknown run {run!r} (known: {', '.join(study_runs())})")


rule train:
    """One T1 run: models/runs/ENCODER/RUN/{encoder,connector,lora}/ + audit + history."""
    wildcard_constraints:
        run=alt(r for r in study_runs() if run_phase(r) == "runs"),
    input:
        unpack(lambda w: spec_inputs(run_spec(w.encoder, w.run))),
    output:
        run=directory("models/runs/{encoder}/{run}"),
        lineage=lineage("models/runs/{encoder}/{run}"),
    params:
        args=lambda w: spec_args(run_spec(w.encoder, w.run)),
        cfg=lambda w: js(run_spec(w.encoder, w.run)["cfg"]),
        seed=config["seed"],
    log:
        "logs/train/{encoder}/{run}.log",
    benchmark:
        "benchmarks/train/{encoder}/{run}.tsv"
    threads: 1
    shell:
        TRAIN


use rule train as train_components with:
    wildcard_constraints:
        run=alt(r for r in study_runs() if run_phase(r) == "components"),
    output:
        run=directory("models/components/{encoder}/{run}"),
        lineage=lineage("models/components/{encoder}/{run}"),
    log:
        "logs/train_components/{encoder}/{run}.log",
    benchmark:
        "benchmarks/train_components/{encoder}/{run}.tsv"
