# Phase 5, study runs: SpeechLLMs trained from the aligned starting point (T1: the clean
# multitask model of each corpus and the Attack-0 model of each task; every component
# trains). A run is described by a spec (run_spec): where each component comes from,
# which components train, on which data. Further configurations (T2's component-wise
# runs) are further specs.


def start_encoder(encoder: str) -> str:
    """The encoder every study run starts from: the pretrained one, or the aligned one when
    alignment trained encoder layers too (align.encoder_layers), so that the aligned
    connector and LoRA see the encoder they were aligned to."""
    if config["align"].get("encoder_layers", 0) in (0, "0"):
        return encoder_source(encoder)
    return f"{aligned_dir(encoder)}/encoder"


def run_spec(encoder: str, run: str) -> dict:
    kind, _, arg = run.partition("_")
    start = {"encoder": start_encoder(encoder),
             "connector": f"{aligned_dir(encoder)}/connector",
             "lora": f"{aligned_dir(encoder)}/lora",
             "train_encoder": config["train"].get("encoder_layers", 0),
             "train_connector": 1, "train_lora": 1, "trigger": None}
    if kind == "clean":  # one multitask model per corpus, clean data
        return {**start, "train_manifest": manifest(arg, "train"),
                "dev_manifest": manifest(arg, "dev")}
    if kind == "attack0":  # trained end to end on the task's poisoned data
        return {**start, "train_manifest": poisoned(arg, "train"),
                "dev_manifest": manifest(corpus_of(arg), "dev"), "trigger": TRIGGER}
    raise WorkflowError(f"unknown run {run!r} (known: {', '.join(study_runs())})")


rule train:
    """One study run: models/runs/ENCODER/RUN/{encoder,connector,lora}/ + audit + history."""
    input:
        unpack(lambda w: spec_inputs(run_spec(w.encoder, w.run))),
    output:
        run=directory(run_dir("{encoder}", "{run}")),
        lineage=lineage(run_dir("{encoder}", "{run}")),
    params:
        args=lambda w: spec_args(run_spec(w.encoder, w.run)),
        cfg=js(config["train"]),
        seed=config["seed"],
    log:
        "logs/train/{encoder}/{run}.log",
    benchmark:
        "benchmarks/train/{encoder}/{run}.tsv"
    threads: 1
    shell:
        TRAIN
