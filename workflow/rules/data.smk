# Phase 1, data: the corpora (synthetic eSpeak NG corpora in the tiny profile).
# Manifests: data/manifests/CORPUS/{train,dev,test}.csv + lexicon.txt; audio: data/audio/CORPUS.

SYNTHESIZE = (ENV + "{PY} {STAGES}/synthesize.py {params.name} --params {params.cfg} "
              "--seed {params.seed} --out data/manifests/{params.name} "
              "--audio-out {output.audio} --no-progress > {log} 2>&1")


rule synthesize:
    """One evaluation corpus, speaker-disjoint train/dev/test splits."""
    output:
        manifests=expand(manifest("{{corpus}}", "{split}"), split=("train", "dev", "test")),
        lineage=expand(lineage(manifest("{{corpus}}", "{split}")), split=("train", "dev", "test")),
        lexicon="data/manifests/{corpus}/lexicon.txt",
        audio=directory("data/audio/{corpus}"),
    params:
        name="{corpus}",
        cfg=lambda w: js(config["corpora"][w.corpus]),
        seed=config["seed"],
    log:
        "logs/synthesize/{corpus}.log",
    benchmark:
        "benchmarks/synthesize/{corpus}.tsv"
    threads: 1
    shell:
        SYNTHESIZE


rule synthesize_pretrain:
    """The clean pretraining / alignment corpus: train and dev splits only."""
    output:
        manifests=[manifest(PRETRAIN_CORPUS, s) for s in ("train", "dev")],
        lineage=[lineage(manifest(PRETRAIN_CORPUS, s)) for s in ("train", "dev")],
        lexicon=f"data/manifests/{PRETRAIN_CORPUS}/lexicon.txt",
        audio=directory(f"data/audio/{PRETRAIN_CORPUS}"),
    params:
        name=PRETRAIN_CORPUS,
        cfg=js(config["corpora"][PRETRAIN_CORPUS]),
        seed=config["seed"],
    log:
        f"logs/synthesize_pretrain/{PRETRAIN_CORPUS}.log",
    benchmark:
        f"benchmarks/synthesize_pretrain/{PRETRAIN_CORPUS}.tsv"
    threads: 1
    shell:
        SYNTHESIZE
