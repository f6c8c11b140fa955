# Phase 1, data: the corpora. `source: synthetic` (the tiny profile): synthesized with eSpeak
# NG; any other source (librispeech, cremad, voxceleb, iemocap, kaldi): loaded from a local
# copy of the real corpus under `root` (README "Real corpora"), LibriSpeech optionally
# downloaded first (`download: true`). The pretraining corpus is always synthetic.
# Manifests: data/manifests/CORPUS/{train,dev,test}.csv + lexicon.txt; audio: data/audio/CORPUS.

SYNTHESIZE = (ENV + "{PY} {STAGES}/synthesize.py {params.name} --params {params.cfg} "
              "--seed {params.seed} --out data/manifests/{params.name} "
              "--audio-out {output.audio} --no-progress > {log} 2>&1")
LIBRISPEECH_SUBSETS = ("dev-clean", "dev-other", "test-clean", "test-other", "train-clean-100",
                       "train-clean-360", "train-other-500")


def is_synthetic(corpus: str) -> bool:
    return config["corpora"][corpus]["source"] == "synthetic"


def real_corpora() -> list[str]:
    return [c for c in eval_corpora() if not is_synthetic(c)]


def downloaded(corpus: str) -> bool:
    """A LibriSpeech corpus the workflow fetches from openslr.org (`download: true`)."""
    c = config["corpora"][corpus]
    return c["source"] == "librispeech" and bool(c.get("download"))


def subset_names(corpus: str) -> list[str]:
    """The subset (LibriSpeech) or data directory (Kaldi) names of every split, in order."""
    subsets = config["corpora"][corpus].get("subsets") or {}
    names = [n for s in ("train", "dev", "test") for n in
             ([subsets[s]] if isinstance(subsets.get(s), str) else subsets.get(s) or [])]
    return list(dict.fromkeys(names))


def download_record(corpus: str, subset: str) -> str:
    return f"data/downloads/{corpus}/{subset}.json"


def download_options(corpus: str, subset: str) -> str:
    """--root, and --url / --checksum where the params give them (a mirror of
    openslr.org/resources/12, `checksums.SUBSET`), shell-quoted."""
    c = config["corpora"][corpus]
    url = c.get("url") and f"{c['url'].rstrip('/')}/{subset}.tar.gz"
    opts = {"--root": c["root"], "--url": url, "--checksum": (c.get("checksums") or {}).get(subset)}
    return " ".join(f"{k} {shlex.quote(v)}" for k, v in opts.items() if v)


def corpus_trees(corpus: str) -> list[str]:
    """What prepare_corpus reads of a local copy: the subset directories (LibriSpeech, with
    SPEAKERS.TXT; Kaldi) or the corpus root."""
    c = config["corpora"][corpus]
    if c["source"] == "librispeech":
        return [os.path.join(c["root"], s) for s in ["SPEAKERS.TXT", *subset_names(corpus)]]
    if c["source"] == "kaldi":
        return [os.path.join(c["root"], s) for s in subset_names(corpus)]
    return [c["root"]]


def corpus_listing(corpus: str) -> str:
    """Every file of a local corpus copy with its size and mtime (written when the workflow
    is loaded, only when the tree changed): the input through which Snakemake, and DVC
    (dvc.yaml: data/listings), see a file added, deleted or rewritten under the root."""
    return f"data/listings/{corpus}.tsv"


def real_inputs(corpus: str) -> list[str]:
    """What prepare_corpus depends on: the download records when downloading, else the
    listing of the corpus tree."""
    if downloaded(corpus):
        return [download_record(corpus, s) for s in subset_names(corpus)]
    return [corpus_listing(corpus)]


def real_params(corpus: str) -> dict:
    """A real corpus's section without the keys only synthetic corpora read (params.yaml's
    `speakers`, `clips_per_speaker` merged under it): they must not rerun it."""
    from slm_backdoor.corpora.real import SYNTHETIC_KEYS  # pandas: only with a real corpus
    return {k: v for k, v in config["corpora"][corpus].items() if k not in SYNTHETIC_KEYS}


for _c in real_corpora():  # a missing corpus is a config error, found before any job runs
    if not downloaded(_c) and not os.path.isdir(config["corpora"][_c]["root"]):
        raise WorkflowError(f"invalid config: corpora.{_c}.root: {config['corpora'][_c]['root']}"
                            f": corpus directory not found (README: Real corpora)")
    if not downloaded(_c):
        from slm_backdoor.corpora.real import write_listing
        write_listing(corpus_listing(_c), corpus_trees(_c))


rule synthesize:
    """One evaluation corpus, speaker-disjoint train/dev/test splits."""
    output:
        manifests=expand(manifest("{{corpus}}", "{split}"), split=("train", "dev", "test")),
        lineage=expand(lineage(manifest("{{corpus}}", "{split}")), split=("train", "dev", "test")),
        lexicon="data/manifests/{corpus}/lexicon.txt",
        speakers="data/manifests/{corpus}/speakers.csv",
        audio=directory("data/audio/{corpus}"),
    wildcard_constraints:
        corpus=alt([c for c in eval_corpora() if is_synthetic(c)]),
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
        download_record("{corpus}", "{subset}"),
    wildcard_constraints:
        corpus=alt([c for c in eval_corpora() if downloaded(c)]),
        subset=alt(LIBRISPEECH_SUBSETS),
    params:
        options=lambda w: download_options(w.corpus, w.subset),
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
        lambda w: real_inputs(w.corpus),
    output:
        manifests=expand(manifest("{{corpus}}", "{split}"), split=("train", "dev", "test")),
        lineage=expand(lineage(manifest("{{corpus}}", "{split}")), split=("train", "dev", "test")),
        lexicon="data/manifests/{corpus}/lexicon.txt",
        speakers="data/manifests/{corpus}/speakers.csv",
        audio=directory("data/audio/{corpus}"),
    wildcard_constraints:
        corpus=alt(real_corpora()),
    params:
        cfg=lambda w: js(real_params(w.corpus)),
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
