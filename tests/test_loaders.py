"""Real-corpus loaders (slm_backdoor/corpora/real) on tiny trees in the official layouts:
the manifests they write, one-line errors naming file and line for malformed trees, and the
workflow switching a corpus to a real source by a configfile (dry run only)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

import corpus_trees as trees
from helpers import copy_workflow, run_stage, snakemake
from slm_backdoor.corpora.real import LoaderError, prepare_corpus
from slm_backdoor.manifest import COLUMNS, read_manifest

LS_SUBSETS = {"train": "train-clean-100", "dev": "dev-clean", "test": "test-clean"}
KALDI_SUBSETS = {"train": "data/train", "dev": "data/dev", "test": "data/test"}
BUILD = {  # source -> (tree builder, extra params)
    "librispeech": (trees.librispeech, {"subsets": LS_SUBSETS}),
    "cremad": (trees.cremad, {}),
    "voxceleb": (trees.voxceleb, {}),
    "iemocap": (trees.iemocap, {}),
    "kaldi": (trees.kaldi, {"subsets": KALDI_SUBSETS}),
}


def make(tmp_path: Path, source: str, **params) -> tuple[Path, dict]:
    build, extra = BUILD[source]
    root = build(tmp_path / source)
    return root, {"source": source, "kind": "read", "root": str(root), **extra, **params}


def prepare(tmp_path: Path, cfg: dict, seed: int = 1, name: str = "corpus") -> dict:
    return prepare_corpus(name, cfg, seed, tmp_path / "manifests" / name,
                          tmp_path / "audio" / name, progress=False)


def manifests(info: dict) -> dict[str, pd.DataFrame]:
    return {s: read_manifest(p) for s, p in info["manifests"].items()}


# -- what each loader writes -----------------------------------------------------------------

def test_librispeech(tmp_path):
    root, cfg = make(tmp_path, "librispeech")
    m = manifests(prepare(tmp_path, cfg))
    assert list(m["train"].columns) == COLUMNS
    assert {s: len(df) for s, df in m.items()} == {"train": 4, "dev": 4, "test": 4}
    row = m["train"].set_index("id").loc["14-1000-0000"]
    assert row["path"] == str(root / "train-clean-100/14/1000/14-1000-0000.flac")
    assert row["transcript"] == "dont forget the jacket"  # lower case, apostrophe dropped
    assert (row["gender"], row["age"], row["emotion"], row["speaker"]) == ("female", "", "", "14")
    assert float(row["duration"]) == pytest.approx(0.2)
    assert set(m["test"]["gender"]) == {"female", "male"}
    lex = (tmp_path / "manifests/corpus/lexicon.txt").read_text().split()
    assert lex == sorted(lex) == ["dont", "forget", "hello", "jacket", "the", "world"]


def test_librispeech_several_subsets_per_split(tmp_path):
    root = trees.librispeech(tmp_path / "ls", subsets=("train-clean-100", "train-clean-360",
                                                       "dev-clean", "test-clean"))
    cfg = {"source": "librispeech", "root": str(root),
           "subsets": {**LS_SUBSETS, "train": ["train-clean-100", "train-clean-360"]}}
    assert prepare(tmp_path, cfg)["n_clips"] == {"train": 6, "dev": 4, "test": 4}


def test_cremad_labels_and_speaker_disjoint_seeded_split(tmp_path):
    root, cfg = make(tmp_path, "cremad")
    m = manifests(prepare(tmp_path, cfg, seed=1))
    assert {s: df["speaker"].nunique() for s, df in m.items()} == {"train": 8, "dev": 1, "test": 1}
    spk = {s: set(df["speaker"]) for s, df in m.items()}
    assert not (spk["train"] & spk["dev"] or spk["train"] & spk["test"] or spk["dev"] & spk["test"])
    row = m["train"].set_index("id").loc[f"{sorted(spk['train'])[0]}_DFA_ANG_XX"]
    assert (row["transcript"], row["emotion"]) == ("dont forget a jacket", "angry")
    all_rows = pd.concat(m.values()).set_index("id")
    assert all_rows.loc["1002_IEO_SAD_LO", ["gender", "age", "emotion"]].tolist() == \
        ["female", "25", "sad"]
    # Same seed, same split; the lineage-relevant bytes are identical.
    again = prepare(tmp_path / "again", cfg, seed=1)
    assert {s: set(read_manifest(p)["speaker"]) for s, p in again["manifests"].items()} == spk
    splits = {seed: {s: set(read_manifest(p)["speaker"]) for s, p in
                     prepare(tmp_path / f"s{seed}", cfg, seed=seed)["manifests"].items()}
              for seed in range(2, 6)}
    assert any(v != spk for v in splits.values())  # the seed matters


def test_voxceleb_annotations_duration_cap_and_skips(tmp_path):
    root, cfg = make(tmp_path, "voxceleb")
    info = prepare(tmp_path, cfg)
    assert info["skipped"] == {"no_annotation": 1, "too_long": 1}
    m = pd.concat(manifests(info).values()).set_index("id")
    assert len(m) == 20 and m["transcript"].eq("").all() and m["emotion"].eq("").all()
    assert m.loc["id00000_vidA_00001", ["gender", "age"]].tolist() == ["male", "30"]
    assert m.loc["id00000_vidB_00001", "age"] == "61"  # the per-video row
    assert m.loc["id00001_vidB_00001", "gender"] == "female"
    assert (m["duration"].astype(float) <= 10).all()
    assert prepare(tmp_path / "nocap", {**cfg, "max_duration": None})["skipped"] == \
        {"no_annotation": 1}


def test_iemocap_sessions_gender_from_the_speaker_and_shared_emotions(tmp_path):
    root, cfg = make(tmp_path, "iemocap")
    info = prepare(tmp_path, cfg)
    assert info["n_clips"] == {"train": 12, "dev": 4, "test": 4}  # 4 of 5 kept per session
    assert info["skipped"] == {"emotion_fru": 5}
    m = manifests(info)
    assert set(m["dev"]["speaker"]) == {"Ses04_F", "Ses04_M"}
    row = m["test"].set_index("id").loc["Ses05F_impro01_M000"]  # a female-led dialog ...
    assert (row["gender"], row["speaker"], row["emotion"]) == ("male", "Ses05_M", "angry")
    assert m["test"].set_index("id").loc["Ses05F_impro01_F001", "emotion"] == "happy"  # exc
    assert row["transcript"] == "excuse me its m000"  # [LAUGHTER] dropped
    no_exc = prepare(tmp_path / "noexc", {**cfg, "merge_excited": False})
    assert no_exc["skipped"] == {"emotion_exc": 5, "emotion_fru": 5}


def test_kaldi_data_directories(tmp_path):
    root, cfg = make(tmp_path, "kaldi")
    m = manifests(prepare(tmp_path, cfg))
    assert {s: len(df) for s, df in m.items()} == {"train": 4, "dev": 2, "test": 2}
    row = m["train"].set_index("id").loc["012c0201"]
    assert row["transcript"] == "the company said its profits rose"  # <NOISE> dropped
    assert (row["speaker"], row["gender"]) == ("012", "male")
    assert row["path"] == str(root / "wav/012c0201.wav")


def test_limit_keeps_a_seeded_sample(tmp_path):
    root, cfg = make(tmp_path, "cremad", limit={"train": 5})
    a, b = (prepare(tmp_path / d, cfg) for d in ("a", "b"))
    assert a["n_clips"]["train"] == 5 and a["skipped"] == {"limit_train": 11}
    assert Path(a["manifests"]["train"]).read_text() == Path(b["manifests"]["train"]).read_text()


# -- sample rate -----------------------------------------------------------------------------

def test_other_sample_rate_is_an_error_naming_the_file_unless_resampling(tmp_path):
    root, cfg = make(tmp_path, "kaldi")
    odd = trees.tone(root / "wav/011c0200.wav", seconds=0.3, sr=8000)
    with pytest.raises(LoaderError, match=re.escape(f"{odd}: sample rate 8000 Hz, expected "
                                                    f"16000 Hz (set corpora.corpus.resample")):
        prepare(tmp_path, cfg)
    assert not (tmp_path / "manifests").exists()
    info = prepare(tmp_path, {**cfg, "resample": True})
    assert info["resampled"] == 1
    row = read_manifest(info["manifests"]["train"]).set_index("id").loc["011c0200"]
    assert row["path"] == str(tmp_path / "audio/corpus/train/011c0200.wav")
    wave, sr = sf.read(row["path"])
    assert sr == 16000 and len(wave) == pytest.approx(0.3 * 16000, abs=2)


# -- malformed trees: one line naming the file and line, nothing written -----------------------

def _append(path: str, text: str):
    return lambda root: (root / path).open("a").write(text)


def _write(path: str, text: str):
    return lambda root: (root / path).write_text(text)


def _remove(path: str):
    return lambda root: (root / path).unlink()


MALFORMED = [
    ("librispeech", _append("train-clean-100/14/1000/14-1000.trans.txt", "14-999-0003 HELLO\n"),
     "train-clean-100/14/1000/14-1000.trans.txt:3: expected '14-1000-<utt> TRANSCRIPT'"),
    ("librispeech", _append("train-clean-100/14/1000/14-1000.trans.txt", "14-1000-0007 HI\n"),
     "14-1000.trans.txt:3: audio file"),
    ("librispeech", _append("SPEAKERS.TXT", "19 | F\n"),
     "SPEAKERS.TXT:9: expected 'ID | SEX | SUBSET | MINUTES | NAME'"),
    ("librispeech", _append("SPEAKERS.TXT", "19 | X | dev-clean | 1.0 | Name\n"),
     "SPEAKERS.TXT:9: field SEX: unknown gender 'X'"),
    ("librispeech", _remove("dev-clean/84/1000/84-1000.trans.txt"),
     "dev-clean/84/1000/84-1000.trans.txt: file not found"),
    ("librispeech", lambda r: trees.tone(r / "dev-clean/84/1000/84-1000-0009.flac"),
     "dev-clean/84/1000/84-1000-0009.flac: no transcript line in"),
    ("librispeech", _remove("SPEAKERS.TXT"), "SPEAKERS.TXT: file not found"),
    ("cremad", lambda r: trees.tone(r / "AudioWAV/1001_DFA_ANGRY.wav"),
     "AudioWAV/1001_DFA_ANGRY.wav: file name is not <ActorID>_<Sentence>_<Emotion>_<Level>.wav"),
    ("cremad", lambda r: trees.tone(r / "AudioWAV/1001_DFA_BOR_XX.wav"),
     "1001_DFA_BOR_XX.wav: unknown emotion code 'BOR'"),
    ("cremad", _append("VideoDemographics.csv", "1011,forty,Male,Asian,Not Hispanic\n"),
     "VideoDemographics.csv:12: field Age: not an age in years 'forty'"),
    ("cremad", lambda r: trees.tone(r / "AudioWAV/1050_DFA_ANG_XX.wav"),
     "VideoDemographics.csv: no row for actor 1050 (of 1050_DFA_ANG_XX.wav)"),
    ("cremad", _write("VideoDemographics.csv", "Actor,Age,Sex\n"),
     "VideoDemographics.csv:1: missing column(s) ActorID"),
    ("voxceleb", _append("annotations.csv", "id00050,x,40,\n"),
     "annotations.csv:13: field gender: unknown gender 'x'"),
    ("voxceleb", _append("annotations.csv", "id00003,f,40,\n"),
     "annotations.csv:13: duplicate row for id00003 (first at line 5)"),
    ("iemocap", _append("Session2/dialog/EmoEvaluation/Ses02F_impro01.txt", "[1.0 - 2.0] oops\n"),
     "Session2/dialog/EmoEvaluation/Ses02F_impro01.txt:23: expected '[start - end]"),
    ("iemocap", _append("Session2/dialog/EmoEvaluation/Ses02F_impro01.txt",
                        "[7.0 - 8.0]\tSes02F_impro01_F009\tbor\t[1, 2, 3]\n"),
     "Ses02F_impro01.txt:23: unknown emotion code 'bor'"),
    ("iemocap", _remove("Session3/sentences/wav/Ses03F_impro01/Ses03F_impro01_M002.wav"),
     "Session3/dialog/EmoEvaluation/Ses03F_impro01.txt:19: audio file"),
    ("kaldi", _append("data/dev/wav.scp", "021c0209 sph2pipe -f wav x.wv1 |\n"),
     "data/dev/wav.scp:3: pipe commands are not supported"),
    ("kaldi", _append("data/dev/wav.scp", "021c0209 wav/021c0200.wav\n"),
     "data/dev/utt2spk: no line for '021c0209' (utterance of"),
    ("kaldi", _append("data/test/spk2gender", "032\n"),
     "data/test/spk2gender:2: expected '<key> <value>'"),
    ("kaldi", _write("data/test/spk2gender", "031 q\n"),
     "data/test/spk2gender:1: field gender: unknown gender 'q'"),
    ("kaldi", _write("wav/011c0201.wav", "not audio"),
     "wav/011c0201.wav: unreadable audio"),
]


@pytest.mark.parametrize("source, mutate, message", MALFORMED,
                         ids=[f"{s}-{i}" for i, (s, _, _) in enumerate(MALFORMED)])
def test_malformed_tree_error_names_file_and_line(tmp_path, source, mutate, message):
    root, cfg = make(tmp_path, source)
    mutate(root)
    with pytest.raises(LoaderError) as e:
        prepare(tmp_path, cfg)
    assert message in str(e.value) and "\n" not in str(e.value), str(e.value)
    assert not (tmp_path / "manifests").exists() and not (tmp_path / "audio").exists()


@pytest.mark.parametrize("params, message", [
    ({"root": "/nonexistent/LibriSpeech"},
     "corpora.corpus.root: /nonexistent/LibriSpeech: corpus directory not found; download it"),
    ({"subsets": {"train": "train-clean-360", "dev": "dev-clean", "test": "test-clean"}},
     "train-clean-360: LibriSpeech subset (corpora.corpus.subsets.train) not found"),
    ({"subsets": {"train": "train-clean-100"}}, "corpora.corpus.subsets: expected a mapping"),
    ({"source": "timit"}, "corpora.corpus.source: unknown loader 'timit'"),
    ({"resample": "yes"}, "corpora.corpus.resample: expected true or false"),
])
def test_bad_params_or_missing_root(tmp_path, params, message):
    _, cfg = make(tmp_path, "librispeech")
    with pytest.raises(LoaderError, match=re.escape(message)):
        prepare(tmp_path, {**cfg, **params})


def test_licensed_corpus_missing_root_says_where_to_get_it(tmp_path):
    with pytest.raises(LoaderError, match=r"corpora.corpus.root: .*: corpus directory not found; "
                                          r"it needs a licence \(https://sail.usc.edu/iemocap/\)"):
        prepare(tmp_path, {"source": "iemocap", "root": str(tmp_path / "IEMOCAP")})


# -- the stage CLI ---------------------------------------------------------------------------

def test_stage_writes_manifests_and_lineage_then_fails_cleanly(tmp_path):
    root, cfg = make(tmp_path, "cremad")
    out = tmp_path / "data/manifests/acted"
    r = run_stage("prepare_corpus", "acted", "--params", json.dumps(cfg), "--seed", "3",
                  "--out", out, "--audio-out", tmp_path / "data/audio/acted", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "prepare_corpus: wrote acted (cremad" in r.stdout
    for split in ("train", "dev", "test"):
        rec = json.loads((out / f"{split}.csv.lineage.json").read_text())
        assert rec["stage"] == "prepare_corpus" and rec["source"] == "cremad"
        assert rec["params"]["seed"] == 3 and len(rec["listing_sha256"]) == 64
        assert rec["inputs"]["label_file0"]["path"].endswith("VideoDemographics.csv")
    assert (out / "lexicon.txt").is_file() and (out / "speakers.csv").is_file()

    (root / "VideoDemographics.csv").open("a").write("1012,old,Male,x,y\n")
    bad_out = tmp_path / "bad"
    r = run_stage("prepare_corpus", "acted", "--params", json.dumps(cfg), "--out", bad_out,
                  "--no-progress")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"prepare_corpus: error: {root}/VideoDemographics.csv:12: field Age: not an age in years 'old'"]
    assert not bad_out.exists()


# -- the workflow: a configfile switches a corpus to a real source ----------------------------

def test_workflow_sees_the_corpus_tree_and_shows_a_stage_error(tmp_path):
    """A real corpus through Snakemake (no --cores: the workflow profile): the synthetic-only
    keys stay out of its params and lineage; a clip deleted under the root reruns it; a bad
    clip fails it with the stage's own error line on the console and leaves no manifest
    (speakers.csv included) behind."""
    work = copy_workflow(tmp_path / "wf")
    root = trees.cremad(tmp_path / "CREMA-D")
    cfg = tmp_path / "real.yaml"
    cfg.write_text(yaml.safe_dump({"corpora": {"acted": {"source": "cremad", "root": str(root)}}}))
    target = "data/manifests/acted/train.csv"
    r = snakemake(work, target, "--configfile", str(cfg))
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    rec = json.loads((work / f"{target}.lineage.json").read_text())
    assert not {"speakers", "clips_per_speaker"} & set(rec["params"]), rec["params"]
    assert (work / "data/manifests/acted/speakers.csv").is_file()
    r = snakemake(work, "-n", target, "--configfile", str(cfg))
    assert "Nothing to be done" in r.stdout + r.stderr

    (root / "AudioWAV/1001_IEO_SAD_LO.wav").unlink()
    r = snakemake(work, "-n", target, "--configfile", str(cfg))
    assert "Updated input files: data/listings/acted.tsv" in r.stdout + r.stderr

    clip = root / "AudioWAV/1002_IEO_SAD_LO.wav"
    wave, sr = sf.read(str(clip))
    sf.write(str(clip), np.stack([wave, wave], 1), sr)
    r = snakemake(work, target, "--configfile", str(cfg))
    assert r.returncode != 0
    assert f"prepare_corpus: error: {clip}: 2 channels, expected mono" in r.stdout + r.stderr
    assert not (work / "data/manifests/acted").exists()


def test_workflow_plans_prepare_corpus_for_a_real_corpus(tmp_path):
    work = copy_workflow(tmp_path / "wf")
    root = trees.librispeech(tmp_path / "LibriSpeech")
    cfg = tmp_path / "real.yaml"
    cfg.write_text(yaml.safe_dump({"corpora": {"read": {
        "source": "librispeech", "root": str(root), "subsets": LS_SUBSETS}}}))
    r = snakemake(work, "-n", "-p", "data/manifests/read/train.csv",
                  "data/manifests/acted/train.csv", "--configfile", str(cfg))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert re.search(r"^rule prepare_corpus:\n(.*\n)*?\s+output: data/manifests/read/train.csv",
                     out, re.M), out
    assert "wildcards: corpus=acted" in out and "rule synthesize:" in out
    assert re.search(r"prepare_corpus\.py read --params .*librispeech.* --out "
                     r"data/manifests/read ", out), out
    assert "download_librispeech" not in out

    cfg.write_text(yaml.safe_dump({"corpora": {"read": {
        "source": "librispeech", "root": str(tmp_path / "nowhere"), "subsets": LS_SUBSETS}}}))
    r = snakemake(work, "-n", "data/manifests/read/train.csv", "--configfile", str(cfg))
    assert r.returncode != 0
    assert f"invalid config: corpora.read.root: {tmp_path / 'nowhere'}: corpus directory not " \
           f"found" in r.stdout + r.stderr


# -- the params schema (corpora part) --------------------------------------------------------

def _validate(overlay: dict):
    """Validate params.yaml with `overlay` merged over it; the failing key path, or None."""
    import jsonschema
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    from helpers import ROOT

    def merge(a, b):
        for k, v in b.items():
            a[k] = merge(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
        return a
    cfg = merge(yaml.safe_load((ROOT / "params.yaml").read_text()), overlay)
    try:
        validate(cfg, str(ROOT / "workflow/schemas/params.schema.yaml"))
    except WorkflowError as e:
        assert isinstance(e.__context__, jsonschema.ValidationError)
        return ".".join(map(str, e.__context__.absolute_path))
    return None


@pytest.mark.parametrize("corpus, key", [
    ({"source": "librispeech", "root": "/d/LS", "subsets": LS_SUBSETS, "download": True,
      "checksums": {"dev-clean": "md5:" + "a" * 32}}, None),
    ({"source": "cremad", "root": "/d/CREMA-D", "split": {"train": 0.8, "dev": 0.1, "test": 0.1},
      "limit": {"train": 100}, "resample": True}, None),
    ({"source": "iemocap", "root": "/d/IEMOCAP", "sessions": {"train": [1, 2, 3], "dev": [4],
                                                              "test": [5]}}, None),
    ({"source": "voxceleb", "root": "/d/vox", "annotations": "ae.csv", "max_duration": None}, None),
    ({"source": "kaldi", "root": "/d/wsj", "subsets": KALDI_SUBSETS}, None),
    ({"source": "timit", "root": "/d/x"}, "corpora.read.source"),
    ({"source": "librispeech", "root": "/d/LS"}, "corpora.read"),          # subsets missing
    ({"source": "cremad", "root": "/d/c", "download": True}, "corpora.read.source"),
    ({"source": "cremad", "root": "/d/c", "split": {"train": 1.5, "dev": 0, "test": 0}},
     "corpora.read.split.train"),
    ({"source": "librispeech", "root": "/d/LS", "subsets": LS_SUBSETS,
      "checksums": {"dev-clean": "abc"}}, "corpora.read.checksums.dev-clean"),
    ({"source": "iemocap", "root": "/d/i", "sessions": {"train": [6], "dev": [4], "test": [5]}},
     "corpora.read.sessions.train.0"),
])
def test_schema_real_corpus_sections(corpus, key):
    assert _validate({"corpora": {"read": corpus}}) == key


def test_schema_keeps_the_pretraining_corpus_synthetic():
    assert _validate({"corpora": {"pretrain": {"source": "librispeech", "root": "/d/LS",
                                               "subsets": LS_SUBSETS}}}) \
        == "corpora.pretrain.source"


def test_a_subset_named_in_two_splits_is_an_error(tmp_path):
    _, cfg = make(tmp_path, "librispeech")
    cfg["subsets"] = {**LS_SUBSETS, "dev": ["dev-clean", "train-clean-100"]}
    with pytest.raises(LoaderError, match=r"14-1000-0000.flac: clip id 14-1000-0000 found twice "
                                          r"\(train and dev; a subset or session named twice\?\)"):
        prepare(tmp_path, cfg)


def test_empty_audio_is_left_out_and_counted(tmp_path):
    """CREMA-D ships one clip without samples (1076_MTI_SAD_XX.wav): left out, counted."""
    root, cfg = make(tmp_path, "cremad")
    sf.write(str(root / "AudioWAV/1003_MTI_SAD_XX.wav"), [], 16000, subtype="PCM_16")
    (root / "AudioWAV/1005_MTI_SAD_XX.wav").write_bytes(b"")  # not even a header
    info = prepare(tmp_path, cfg)
    assert info["skipped"] == {"empty_audio": 2} and sum(info["n_clips"].values()) == 20
