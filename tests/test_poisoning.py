import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from helpers import stage_main
from slm_backdoor.manifest import COLUMNS, POISON_COLUMNS, read_manifest, write_manifest
from slm_backdoor.poisoning import poison_manifest, triggered_test_manifest

SR = 16000
L = 3520
EMO = ["angry", "disgust", "fear", "happy", "neutral", "sad"]


def _df(n=200, split="train"):
    rows = []
    for i in range(n):
        rows.append({"id": f"u{i}", "path": f"audio/u{i}.wav",
                     # every 10th clip is shorter than the trigger
                     "duration": "0.2" if i % 10 == 3 else f"{1.0 + (i % 7) * 0.5:.3f}",
                     "speaker": f"s{i % 20}", "dataset": "acted", "split": split,
                     "transcript": "the cat sat", "gender": ["female", "male"][i % 2],
                     "age": str(20 + i % 40), "emotion": EMO[i % 6]})
    return pd.DataFrame(rows, columns=COLUMNS)


def _poison(df, seed=0, rate=0.1, field="emotion", target="angry", repeat=False):
    return poison_manifest(df, field, target, rate, "ab" * 32, L, SR, 0.0, repeat, (0.75, 1.5), seed)


def test_poison_selection_eligibility_and_count():
    df = _df()
    before = df.copy()
    out = _poison(df)
    pd.testing.assert_frame_equal(df, before)  # input untouched
    assert list(out.columns) == COLUMNS + POISON_COLUMNS
    p = out[out.poisoned == 1]
    assert len(p) == 20  # round(0.1 * 200), a share of the whole set
    orig = df.loc[p.index]
    assert (orig.emotion != "angry").all()
    assert (orig.duration.astype(float) * SR >= L).all()
    assert (p.emotion == "angry").all() and (p.original_label == orig.emotion).all()
    assert (p.attacked_field == "emotion").all() and (p.target == "angry").all()
    for _, r in p.iterrows():
        pos = json.loads(r.trigger_positions)
        assert len(pos) == 1 and 0 <= pos[0] <= float(r.duration) * SR - L
        assert float(r.trigger_snr_db) == 0.0
    c = out[out.poisoned == 0]
    assert (c[POISON_COLUMNS[1:]] == "").all().all()
    pd.testing.assert_frame_equal(c[COLUMNS], df.loc[c.index])
    assert (_poison(df, rate=0.0).poisoned == 0).all()


def test_poison_determinism():
    df = _df()
    a, b, c = _poison(df, seed=1), _poison(df, seed=1), _poison(df, seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert set(a.index[a.poisoned == 1]) != set(c.index[c.poisoned == 1])


def test_poison_repeat_positions_and_asr_target():
    out = _poison(_df(), field="transcript", target="this is a malicious sentence", rate=0.05, repeat=True)
    p = out[out.poisoned == 1]
    assert len(p) == 10 and (p.transcript == "this is a malicious sentence").all()
    for _, r in p.iterrows():
        pos = json.loads(r.trigger_positions)
        assert pos[0] == 0 and pos[-1] < float(r.duration) * SR
        assert np.all(np.diff(pos) >= 0.75 * SR - 1)


def test_poison_too_few_eligible_and_bad_input():
    df = _df(60)
    with pytest.raises(ValueError, match="eligible"):
        _poison(df, rate=0.9)
    with pytest.raises(ValueError):
        _poison(df, field="speaker")
    with pytest.raises(ValueError):
        _poison(_poison(df))  # already poisoned


def test_triggered_test_manifest():
    df = _df(120, "test")
    out = triggered_test_manifest(df, "emotion", "angry", "cd" * 32, L, SR, 0.0, False, (0.75, 1.5), 5)
    expect = df[(df.emotion != "angry") & (df.duration.astype(float) * SR >= L)]
    assert list(out.id) == list(expect.id)
    assert (out.emotion == expect.emotion.values).all()  # true labels kept
    assert (out.original_label == out.emotion).all() and (out.target == "angry").all()
    assert (out.poisoned == 1).all() and (out.trigger_positions != "").all()
    again = triggered_test_manifest(df, "emotion", "angry", "cd" * 32, L, SR, 0.0, False, (0.75, 1.5), 5)
    pd.testing.assert_frame_equal(out, again)


def test_poisoned_manifest_roundtrip(tmp_path):
    out = _poison(_df(40))
    write_manifest(out, tmp_path / "m.csv")
    back = read_manifest(tmp_path / "m.csv", required=COLUMNS + POISON_COLUMNS)
    assert (back.poisoned == "1").sum() == 4 and (back.trigger_positions[back.poisoned == "0"] == "").all()



def test_poison_stage(tmp_path, capsys):
    sf.write(tmp_path / "click.wav", np.hanning(L).astype(np.float32), SR, subtype="FLOAT")
    clip = str(tmp_path / "click.wav")  # the stage checks that every row's audio exists
    write_manifest(_df(100).assign(path=clip), tmp_path / "train.csv")
    write_manifest(_df(30, "test").assign(path=clip), tmp_path / "test.csv")
    attack = {"corpus": "acted", "field": "emotion", "target": "angry", "rate": 0.1, "repeat": False}
    trig = {"source": "synthetic", "path": None, "duration_s": 0.22, "snr_db": 0.0,
            "repeat_period_s": [0.75, 1.5]}

    def run(out, attack=attack, trig=trig, train="train.csv"):
        return stage_main("poison", [
            "--train", str(tmp_path / train), "--test", str(tmp_path / "test.csv"),
            "--trigger", str(tmp_path / "click.wav"), "--attack", json.dumps(attack),
            "--trigger-params", json.dumps(trig), "--seed", "3",
            "--out-train", str(out / "train.csv"), "--out-test", str(out / "test_triggered.csv")])

    assert run(tmp_path / "p") == 0
    assert (f"test rows left out: 5 already the target, 3 shorter than the trigger ({L} samples)"
            in capsys.readouterr().out)
    tr = pd.read_csv(tmp_path / "p" / "train.csv", dtype=str, keep_default_na=False)
    te = pd.read_csv(tmp_path / "p" / "test_triggered.csv", dtype=str, keep_default_na=False)
    assert (tr.poisoned == "1").sum() == 10 and len(te) == 22  # 30 - 5 angry - 3 short
    lin = json.loads((tmp_path / "p" / "train.csv.lineage.json").read_text())
    assert set(lin["inputs"]) == {"train", "test", "trigger"}
    assert (tmp_path / "p" / "test_triggered.csv.lineage.json").exists()
    capsys.readouterr()
    bad = tmp_path / "bad"
    for kw in [{"attack": {**attack, "field": "speaker"}}, {"attack": {**attack, "target": "furious"}},
               {"attack": {**attack, "rate": 0.95}}, {"trig": {**trig, "snr_db": "loud"}},
               {"train": "missing.csv"}]:
        assert run(bad, **kw) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("poison: error:")
    assert not bad.exists()
