import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import stage_main
from slm_backdoor.audio import read_audio
from slm_backdoor.corpora import espeak
from slm_backdoor.corpora.synthetic import (CorpusError, EMOTION_PROSODY, build_corpus,
                                            kind_lexicon, make_speaker, plan_speakers, prosody,
                                            union_lexicon)
from slm_backdoor.manifest import COLUMNS, read_manifest

SR = 16000


def _cfg(kind, train=2, dev=1, test=1, clips=2):
    spk = {"train": train, "dev": dev} if kind == "pretrain" else {"train": train, "dev": dev,
                                                                     "test": test}
    return {"source": "synthetic", "kind": kind, "speakers": spk, "clips_per_speaker": clips}


def _digest(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _f0(wave: np.ndarray, sr: int = SR) -> float:
    """Median autocorrelation pitch (Hz) over voiced 40 ms frames."""
    n, hop = int(0.04 * sr), int(0.01 * sr)
    lo, hi = int(sr / 400), int(sr / 60)
    out = []
    for i in range(0, len(wave) - n, hop):
        x = wave[i:i + n] - wave[i:i + n].mean()
        if np.sqrt(np.mean(x ** 2)) < 0.02:
            continue
        ac = np.correlate(x, x, "full")[n - 1:]
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.4 * ac[0]:
            out.append(sr / lag)
    return float(np.median(out))


@pytest.fixture(scope="module")
def acted(tmp_path_factory):
    root = tmp_path_factory.mktemp("acted")
    return root, build_corpus("tacted", _cfg("acted", clips=3), seed=3, root=root, progress=False)


def test_deterministic_bytes(tmp_path, monkeypatch):
    digests = []
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        monkeypatch.chdir(tmp_path / run)
        out = build_corpus("tacted", _cfg("acted", clips=2), seed=3, root=Path("data"),
                           progress=False)
        assert out["train"] == Path("data/manifests/tacted/train.csv")
        digests.append(_digest(tmp_path / run))
    a, b = digests
    assert len(a) == 2 * 4 + 5  # 8 WAVs, 3 CSVs, lexicon, speakers
    assert a == b  # manifests (relative paths) and WAVs byte-identical
    df = read_manifest(tmp_path / "a/data/manifests/tacted/train.csv")
    assert df.path.iloc[0].startswith("data/audio/tacted/train/")
    monkeypatch.chdir(tmp_path)
    other = build_corpus("tacted", _cfg("acted", clips=2), seed=4, root=Path("s4"),
                         progress=False)
    assert not read_manifest(other["train"]).drop(columns="path").equals(df.drop(columns="path"))


def test_espeak_history_independent():
    args = dict(voice="en-us", variant="m3", rate=160, pitch=55)
    w1, a1 = espeak.synthesize("the surface is slick", **args)
    espeak.synthesize("we have to leave right now", voice="en-us", variant="f2", rate=220,
                      amplitude=180)
    w2, a2 = espeak.synthesize("the surface is slick", **args)
    assert w1.tobytes() == w2.tobytes() and a1 == a2
    assert w1.dtype == np.float32 and np.max(np.abs(w1)) <= 1.0


def test_manifest_layout_and_labels(acted):
    root, out = acted
    assert set(out) == {"train", "dev", "test"}
    df = read_manifest(out["train"])
    assert list(df.columns) == COLUMNS + ["alignment"]
    assert (df.dataset == "tacted").all() and (df.split == "train").all()
    assert len(df) == 2 * 3
    for r in df.itertuples():
        assert r.transcript and r.gender in ("female", "male") and r.age.isdigit()
        assert r.emotion in EMOTION_PROSODY
        assert Path(r.path).is_file() and Path(r.path).parent == root / "audio/tacted/train"
        wave = read_audio(r.path)
        assert float(r.duration) == pytest.approx(len(wave) / SR, abs=1e-3)
        assert 0.5 < float(r.duration) < 4.0
    lex = (root / "manifests/tacted/lexicon.txt").read_text().split()
    assert lex == sorted(lex) == kind_lexicon("acted")
    assert "oclock" in lex and "doctors" in lex  # apostrophes dropped


@pytest.mark.parametrize("kind,filled", [
    ("read", {"transcript", "gender"}),
    ("celeb", {"gender", "age"}),
    ("pretrain", {"transcript", "gender", "age", "emotion"}),
])
def test_labels_per_kind(tmp_path, kind, filled):
    out = build_corpus(f"t{kind}", _cfg(kind, train=2, dev=1, clips=2), seed=1, root=tmp_path,
                       progress=False)
    assert set(out) == ({"train", "dev"} if kind == "pretrain" else {"train", "dev", "test"})
    df = pd.concat(read_manifest(p) for p in out.values())
    for col in ("transcript", "gender", "age", "emotion"):
        assert (df[col] != "").all() if col in filled else (df[col] == "").all(), col
    if "transcript" in filled:
        words = {w for t in df.transcript for w in t.split()}
        assert words <= set(kind_lexicon(kind))
        assert all(3 <= len(t.split()) <= 7 for t in df.transcript) or kind == "pretrain"


def test_alignment_sane(acted):
    _, out = acted
    for p in out.values():
        for r in read_manifest(p).itertuples():
            al = json.loads(r.alignment)
            assert [w for w, _, _ in al] == r.transcript.split()
            dur = float(r.duration)
            prev_end = 0.0
            for _, s, e in al:
                assert 0.0 <= s <= e <= dur + 1e-6
                assert s == pytest.approx(prev_end, abs=1e-6)  # contiguous, monotone
                prev_end = e
            assert al[-1][2] == pytest.approx(dur, abs=1e-3)


def test_speaker_disjoint_splits_and_corpora():
    a = plan_speakers("read", {"train": 6, "dev": 2, "test": 3}, seed=1234)
    b = plan_speakers("read2", {"train": 6, "dev": 2, "test": 3}, seed=1234)
    ids_a = [s.id for v in a.values() for s in v]
    ids_b = [s.id for v in b.values() for s in v]
    assert len(set(ids_a)) == len(ids_a) and not set(ids_a) & set(ids_b)
    voices_a = {s.variant for v in a.values() for s in v}
    assert not voices_a & {s.variant for v in b.values() for s in v}
    for spks in a.values():
        assert {s.gender for s in spks} == {"female", "male"}
        assert all(20 <= s.age <= 75 for s in spks)


def test_split_disjoint_in_manifests(acted):
    _, out = acted
    spk = {s: set(read_manifest(p).speaker) for s, p in out.items()}
    assert not (spk["train"] & spk["dev"] or spk["train"] & spk["test"] or spk["dev"] & spk["test"])


def test_acted_balanced_over_emotions(tmp_path):
    out = build_corpus("tbal", {"kind": "acted2", "speakers": {"train": 1}, "clips_per_speaker": 8},
                       seed=0, root=tmp_path, progress=False)
    df = read_manifest(out["train"])
    assert sorted(df.emotion.value_counts().to_dict().items()) == \
        [("angry", 2), ("happy", 2), ("neutral", 2), ("sad", 2)]
    assert len(set(df.id)) == 8


def test_gender_and_emotion_are_audible():
    text = "maybe tomorrow it will be cold"
    rng = np.random.default_rng(0)
    f0 = {}
    for g in ("male", "female"):
        spk = make_speaker(f"x{g}", g, 35, rng)
        f0[g] = _f0(espeak.synthesize(text, voice="en-us", variant=spk.variant)[0])
    assert f0["female"] > 1.4 * f0["male"], f0
    spk = make_speaker("xe", "male", 40, np.random.default_rng(1))
    stats = {}
    for emo in EMOTION_PROSODY:
        w, _ = espeak.synthesize(text, voice="en-us", variant=spk.variant,
                                 **prosody(spk, emo, np.random.default_rng(2), jitter=0.0))
        stats[emo] = dict(dur=len(w) / SR, rms=float(np.sqrt(np.mean(w ** 2))), f0=_f0(w))
    assert stats["sad"]["dur"] > 1.15 * stats["neutral"]["dur"] > 1.15 * stats["fear"]["dur"]
    assert stats["angry"]["rms"] > 1.4 * stats["neutral"]["rms"] > 1.4 * stats["sad"]["rms"]
    assert stats["happy"]["f0"] > 1.2 * stats["neutral"]["f0"] > 1.1 * stats["sad"]["f0"]


def test_age_is_audible():
    text = "we really love our fans"
    young = make_speaker("y", "male", 22, np.random.default_rng(5))
    old = make_speaker("o", "male", 72, np.random.default_rng(5))
    wy, _ = espeak.synthesize(text, voice="en-us", variant=young.variant, rate=round(young.rate))
    wo, _ = espeak.synthesize(text, voice="en-us", variant=old.variant, rate=round(old.rate))
    assert len(wo) > 1.15 * len(wy)  # slower
    assert young.rate > old.rate and young.pitch_range > old.pitch_range


def test_union_lexicon_covers_all_kinds():
    u = set(union_lexicon())
    for k in ("read", "read2", "acted", "acted2", "celeb"):
        assert set(kind_lexicon(k)) <= u
    assert union_lexicon() == kind_lexicon("pretrain") == sorted(u)
    assert all(w.isalpha() and w.islower() for w in u)


def test_bad_config_names_key(tmp_path):
    with pytest.raises(CorpusError, match=r"corpora\.x\.kind"):
        build_corpus("x", {"kind": "podcast", "speakers": {"train": 1}, "clips_per_speaker": 1},
                     0, root=tmp_path)
    with pytest.raises(CorpusError, match=r"corpora\.x\.speakers\.eval"):
        build_corpus("x", {"kind": "read", "speakers": {"eval": 1}, "clips_per_speaker": 1},
                     0, root=tmp_path)
    with pytest.raises(CorpusError, match=r"corpora\.x\.clips_per_speaker"):
        build_corpus("x", {"kind": "read", "speakers": {"train": 1}, "clips_per_speaker": 0},
                     0, root=tmp_path)
    assert not any(tmp_path.iterdir())


def test_stage_writes_manifests_and_lineage(tmp_path):
    out = tmp_path / "data/manifests/tiny"
    params = json.dumps({"source": "synthetic", "kind": "celeb",
                         "speakers": {"train": 1, "dev": 1, "test": 1}, "clips_per_speaker": 2})
    rc = stage_main("synthesize", ["tiny", "--params", params, "--seed", "5", "--out", str(out),
                                   "--no-progress"])
    assert rc == 0
    for split in ("train", "test"):
        lin = json.loads((out / f"{split}.csv.lineage.json").read_text())
        assert lin["stage"] == "synthesize" and lin["params"]["kind"] == "celeb"
        assert lin["params"]["seed"] == 5 and lin["n_clips"] == 2
    assert len(list((tmp_path / "data/audio/tiny/train").glob("*.wav"))) == 2
    assert not list(out.parent.glob(".tmp*"))


SECTION = {"source": "synthetic", "kind": "read", "speakers": {"train": 1, "dev": 1},
           "clips_per_speaker": 1}  # a section the schema accepts


@pytest.mark.parametrize("change, names", [
    ({"kind": "nope"}, ["kind", "'nope'"]),
    ({"clips_per_speeker": 1}, ["'clips_per_speeker'"]),  # misspelt key, top level
    ({"speakers": {"train": 1, "dev": 1, "eval": 1}}, ["speakers", "'eval'"]),  # nested
])
def test_stage_error_one_line(tmp_path, capsys, change, names):
    """Run alone, synthesize checks its section against the schema as Snakemake checks
    params.yaml: a bad value or an unknown key is one line naming it, nothing written."""
    out = tmp_path / "m/bad"
    params = json.dumps({**SECTION, **change})
    rc = stage_main("synthesize", ["bad", "--params", params, "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err and err.startswith("synthesize: error: --params"), err
    assert all(name in err for name in names), err
    assert not out.exists() and not (tmp_path / "audio").exists()


def test_stage_error_bad_json(tmp_path, capsys):
    out = tmp_path / "m/bad"
    rc = stage_main("synthesize", ["bad", "--params", "{not json", "--out", str(out)])
    assert rc == 2 and "--params" in capsys.readouterr().err
