# Phase 1, data: the corpora. `source: synthetic` (the tiny profile): synthesized with eSpeak
# NG; any other source (librispeech, cremad, voxceleb, iemocap, kaldi): loaded from a local
# copy of the real corpus under `root` (README "Real corpora"), LibriSpeech optionally
# downloaded first (`download: true`). The pretraining corpus is always synthetic.
# Manifests: data/manifests/CORPUS/{train,dev,test}.csv + lexicon.txt; audio: data/audio/CORPUS.

rule synthesize:
    """One evaluation corpus, speaker-disjoint train/dev/test splits."""
    output:
        manifests=expand(manifest("{{corpus}}", "{split}"), split=SPLITS),
        lineage=expand(lineage(manifest("{{corpus}}", "{split}")), split=SPLITS),
        lexicon=study.lexicon("{corpus}"),
        speakers="data/manifests/{corpus}/speakers.csv",
        audio=directory("data/audio/{corpus}"),
    wildcard_constraints:
        corpus=alt(study.synthetic_corpora(config)),
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
        lexicon=study.lexicon(PRETRAIN_CORPUS),
        speakers=f"data/manifests/{PRETRAIN_CORPUS}/speakers.csv",
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


rule download_librispeech:
    """One LibriSpeech subset from openslr.org into the corpus root: resumable, checksum
    checked (the known sha256, or `checksums.SUBSET`), extracted; the record says so."""
    output:
        study.download_record("{corpus}", "{subset}"),
    wildcard_constraints:
        corpus=alt(study.downloaded_corpora(config)),
        subset=alt(study.LIBRISPEECH_SUBSETS),
    params:
        options=lambda w: study.download_options(config, w.corpus, w.subset),
    log:
        "logs/download_librispeech/{corpus}/{subset}.log",
    benchmark:
        "benchmarks/download_librispeech/{corpus}/{subset}.tsv"
    threads: 1
    shell:
        ENV + "{PY} {STAGES}/download_librispeech.py --subset {wildcards.subset} "
        "{params.options} --out {output} > {log} 2>&1"


rule prepare_corpus:
    """One real evaluation corpus from its local copy: the same manifests as synthesize."""
    input:
        lambda w: study.real_inputs(config, w.corpus),
    output:
        manifests=expand(manifest("{{corpus}}", "{split}"), split=SPLITS),
        lineage=expand(lineage(manifest("{{corpus}}", "{split}")), split=SPLITS),
        lexicon=study.lexicon("{corpus}"),
        speakers="data/manifests/{corpus}/speakers.csv",
        audio=directory("data/audio/{corpus}"),
    wildcard_constraints:
        corpus=alt(study.real_corpora(config)),
    params:
        cfg=lambda w: js(study.real_params(config, w.corpus)),
        seed=config["seed"],
        sr=config["sample_rate"],
    log:
        "logs/prepare_corpus/{corpus}.log",
    benchmark:
        "benchmarks/prepare_corpus/{corpus}.tsv"
    threads: 1
    shell:
        ENV + "{PY} {STAGES}/prepare_corpus.py {wildcards.corpus} --params {params.cfg} "
        "--seed {params.seed} --sr {params.sr} --out data/manifests/{wildcards.corpus} "
        "--audio-out {output.audio} --no-progress > {log} 2>&1"
