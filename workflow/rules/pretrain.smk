# Phase 4, components: the tiny profile pretrains its own small LLM (with a word-level
# tokenizer) and one small encoder per family on the clean pretraining corpus, then aligns
# a fresh connector + LoRA to each encoder (the "usual initialisation" of every study run).
# The `paper` profile takes the public checkpoints instead (llm_source, encoder_source) and
# starts connector and LoRA fresh (usual_init): these rules then make no jobs.


rule pretrain_llm:
    """Tokenizer over every corpus' lexicon and the attack targets; LM pretraining on text."""
    input:
        manifest=manifest(PRETRAIN_CORPUS, "train"),
        lexicons=[f"data/manifests/{c}/lexicon.txt" for c in corpora()],
    output:
        llm=directory("models/pretrained/llm"),
        lineage=lineage("models/pretrained/llm"),
    params:
        cfg=js(config["pretrain"]["llm"]),
        targets=js([target_of(t) for t in tasks()]),
        seed=config["seed"],
    log:
        "logs/pretrain_llm/llm.log",
    benchmark:
        "benchmarks/pretrain_llm/llm.tsv"
    threads: 1
    shell:
        ENV + "{PY} {STAGES}/pretrain_llm.py --manifest {input.manifest} "
        "--lexicons {input.lexicons} --targets {params.targets} --params {params.cfg} "
        "--seed {params.seed} --out {output.llm} > {log} 2>&1"


rule pretrain_encoder:
    """One small encoder of a family (word-level CTC + label heads, then the heads dropped)."""
    input:
        train=manifest(PRETRAIN_CORPUS, "train"),
        dev=manifest(PRETRAIN_CORPUS, "dev"),
        lexicon=f"data/manifests/{PRETRAIN_CORPUS}/lexicon.txt",
    output:
        encoder=directory("models/pretrained/encoder_{family}"),
        lineage=lineage("models/pretrained/encoder_{family}"),
    params:
        cfg=js(config["pretrain"]["encoder"]),
        seed=config["seed"],
    log:
        "logs/pretrain_encoder/{family}.log",
    benchmark:
        "benchmarks/pretrain_encoder/{family}.tsv"
    threads: 1
    shell:
        ENV + "{PY} {STAGES}/pretrain_encoder.py --family {wildcards.family} "
        "--train {input.train} --dev {input.dev} --lexicon {input.lexicon} "
        "--params {params.cfg} --seed {params.seed} --out {output.encoder} > {log} 2>&1"


# -- SpeechLLM runs (align here, the study runs in train.smk) share one command line -----

COMPONENTS = ("encoder", "connector", "lora")


def source_dep(path: str) -> str | None:
    """The artifact a component source comes from: a run or alignment directory for
    RUN/encoder, RUN/connector, RUN/lora; the path itself otherwise; None for 'fresh'."""
    if path == "fresh":
        return None
    return os.path.dirname(path) if os.path.basename(path) in COMPONENTS else path


def spec_inputs(spec: dict) -> dict:
    """Snakemake inputs of a run spec (see run_spec in train.smk)."""
    inputs = {"llm": llm_source(), "train": spec["train_manifest"], "dev": spec["dev_manifest"]}
    for c in COMPONENTS:
        dep = source_dep(spec[c])
        if dep and dep not in inputs.values():
            inputs[f"{c}_source"] = dep
    if spec.get("trigger"):
        inputs["trigger"] = spec["trigger"]
    return inputs


def spec_args(spec: dict) -> str:
    """stages/train.py arguments of a run spec (everything but --params/--seed/--out)."""
    args = ["--llm", llm_source(), "--encoder", spec["encoder"], "--connector",
            spec["connector"], "--lora", spec["lora"],
            "--train-encoder", str(spec["train_encoder"]),
            "--train-connector", str(int(spec["train_connector"])),
            "--train-lora", str(int(spec["train_lora"])),
            "--train-manifest", spec["train_manifest"], "--dev-manifest", spec["dev_manifest"]]
    if spec.get("trigger"):
        args += ["--trigger", spec["trigger"]]
    return " ".join(shlex.quote(a) for a in args)


TRAIN = (ENV + "{PY} {STAGES}/train.py {params.args} --params {params.cfg} "
         "--seed {params.seed} --out {output.run} > {log} 2>&1")


def align_spec(family: str) -> dict:
    """Alignment: fresh connector and LoRA on the clean pretraining corpus."""
    return {"encoder": encoder_source(family), "connector": "fresh", "lora": "fresh",
            "train_encoder": family_value(config["align"].get("encoder_layers", 0), family),
            "train_connector": 1, "train_lora": 1,
            "train_manifest": manifest(PRETRAIN_CORPUS, "train"),
            "dev_manifest": manifest(PRETRAIN_CORPUS, "dev"), "trigger": None}


rule align:
    """Connector + LoRA learn to read one encoder's audio (clean pretraining corpus)."""
    input:
        unpack(lambda w: spec_inputs(align_spec(w.family))),
    output:
        run=directory(aligned_dir("{family}")),
        lineage=lineage(aligned_dir("{family}")),
    params:
        args=lambda w: spec_args(align_spec(w.family)),
        cfg=js(config["align"]),
        seed=config["seed"],
    log:
        "logs/align/{family}.log",
    benchmark:
        "benchmarks/align/{family}.tsv"
    threads: 1
    shell:
        TRAIN
