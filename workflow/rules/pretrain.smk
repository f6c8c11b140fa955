# Phase 4, components: the tiny profile pretrains its own small LLM (with a word-level
# tokenizer) and one small encoder per family on the clean pretraining corpus, then aligns
# a fresh connector + LoRA to each encoder (the "usual initialisation" of every study run).
# The `paper` profile takes the public checkpoints instead (study.llm_source, encoder_source) and
# starts connector and LoRA fresh (study.usual_init): these rules then make no jobs.


rule pretrain_llm:
    """Tokenizer over every corpus' lexicon and the attack targets; LM pretraining on text."""
    input:
        manifest=manifest(PRETRAIN_CORPUS, "train"),
        lexicons=[study.lexicon(c) for c in study.corpora(config)],
    output:
        llm=directory("models/pretrained/llm"),
        lineage=lineage("models/pretrained/llm"),
    params:
        cfg=js(config["pretrain"]["llm"]),
        targets=js([study.target_of(config, t) for t in study.tasks(config)]),
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
        lexicon=study.lexicon(PRETRAIN_CORPUS),
    output:
        encoder=directory("models/pretrained/encoder_{family}"),
        lineage=lineage("models/pretrained/encoder_{family}"),
    params:
        cfg=lambda w: js(study.encoder_pretraining(config, w.family)),
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


rule align:
    """Connector + LoRA learn to read one encoder's audio (clean pretraining corpus)."""
    input:
        unpack(lambda w: study.spec_inputs(config, study.align_spec(config, w.family))),
    output:
        run=directory(study.aligned_dir("{family}")),
        lineage=lineage(study.aligned_dir("{family}")),
    params:
        args=lambda w: study.spec_args(config, study.align_spec(config, w.family)),
        cfg=js(config["align"]),
        seed=config["seed"],
    log:
        "logs/align/{family}.log",
    benchmark:
        "benchmarks/align/{family}.tsv"
    threads: 1
    shell:
        TRAIN
