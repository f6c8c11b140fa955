import json

import numpy as np
import pytest
import soundfile as sf

from helpers import stage_main
from slm_backdoor.triggers import draw_positions, insert, load_trigger, synth_click, trigger_gain

SR = 16000



def _snr(clean, added):
    return 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(added.astype(np.float64) ** 2))


def test_synth_click_deterministic_click():
    x = synth_click(SR, 0.22, seed=0)
    assert x.dtype == np.float32 and len(x) == round(0.22 * SR)
    assert np.max(np.abs(x)) == pytest.approx(1.0)
    assert np.array_equal(x, synth_click(SR, 0.22, seed=0))
    assert not np.array_equal(x, synth_click(SR, 0.22, seed=1))
    # sharp attack, decaying: the first 10 ms hold far more energy than the last 50 ms
    assert np.mean(x[:160] ** 2) > 100 * np.mean(x[-800:] ** 2)
    assert np.argmax(np.abs(x)) < 0.01 * SR
    assert len(synth_click(8000, 0.22)) == 1760


def test_single_position_uniform():
    rng = np.random.default_rng(0)
    n, L = 1000, 100
    pos = np.array([draw_positions(n, L, rng, False, SR)[0] for _ in range(4000)])
    assert pos.min() >= 0 and pos.max() <= n - L
    assert pos.min() < 10 and pos.max() > n - L - 10
    assert abs(pos.mean() - (n - L) / 2) < 15
    hist, _ = np.histogram(pos, bins=9, range=(0, n - L + 1))
    assert hist.min() > 0.8 * 4000 / 9


def test_repeat_positions_first_at_zero_and_spacing():
    a, b = 0.75, 1.5
    rng = np.random.default_rng(1)
    for n in [int(0.3 * SR), int(2.0 * SR), int(7.3 * SR), int(15 * SR)]:
        pos = draw_positions(n, 3520, rng, True, SR, (a, b))
        assert pos[0] == 0 and pos[-1] < n
        d = np.diff(pos)
        assert np.all(d >= round(a * SR)) and np.all(d <= round(b * SR))
        assert n - pos[-1] <= round(b * SR)  # the clicks cover the whole utterance
    assert len(draw_positions(15 * SR, 3520, rng, True, SR, (a, b))) >= 10


def test_short_clips_get_none():
    rng = np.random.default_rng(0)
    for repeat in (False, True):
        assert draw_positions(3519, 3520, rng, repeat, SR) is None
        assert draw_positions(0, 3520, rng, repeat, SR) is None
        assert draw_positions(3520, 3520, rng, repeat, SR) == [0]


@pytest.mark.parametrize("snr_db", [0.0, 10.0, -5.0, 20.0])
def test_insert_snr_is_exact(snr_db):
    rng = np.random.default_rng(3)
    wave = (0.1 * rng.standard_normal(2 * SR)).astype(np.float32)
    trig = synth_click(SR)
    out = insert(wave, trig, [5000], snr_db)
    added = out.astype(np.float64) - wave
    assert np.all(added[:5000] == 0) and np.all(added[5000 + len(trig):] == 0)
    assert abs(_snr(wave, added[5000:5000 + len(trig)]) - snr_db) < 0.1


def test_insert_repeated_truncated_no_mutation():
    rng = np.random.default_rng(4)
    wave = (0.05 * rng.standard_normal(SR)).astype(np.float32)
    before = wave.copy()
    trig = synth_click(SR)
    pos = [0, 8000, SR - 1000, SR + 5]  # third overhangs (truncated), fourth is past the end (ignored)
    out = insert(wave, trig, pos, 0.0)
    assert np.array_equal(wave, before) and out is not wave and out.dtype == np.float32
    added = out.astype(np.float64) - wave
    g = trigger_gain(wave, trig, 0.0)
    for p in pos[:2]:  # every whole click has the requested SNR
        assert abs(_snr(wave, added[p:p + len(trig)]) - 0.0) < 0.1
    np.testing.assert_allclose(added[SR - 1000:], g * trig[:1000], atol=1e-6)
    clipped = insert(wave * 10, trig, [0], -20.0, clip=True)
    assert np.max(np.abs(clipped)) <= 1.0
    with pytest.raises(ValueError):
        insert(np.zeros(SR, np.float32), trig, [0], 0.0)


def test_load_trigger_downmix_resample_and_errors(tmp_path):
    st = np.stack([np.ones(800), -np.ones(800) * 0.5], axis=1).astype(np.float32)
    sf.write(tmp_path / "st.wav", st, 8000)
    x = load_trigger(tmp_path / "st.wav", SR)
    assert x.dtype == np.float32 and x.ndim == 1 and len(x) == 1600
    assert np.median(x) == pytest.approx(0.25, abs=1e-3)
    (tmp_path / "bad.wav").write_text("not audio at all")
    with pytest.raises(ValueError, match="bad.wav"):
        load_trigger(tmp_path / "bad.wav", SR)
    with pytest.raises(ValueError, match="missing.wav"):
        load_trigger(tmp_path / "missing.wav", SR)


def test_trigger_stage_writes_and_rejects(tmp_path, capsys):
    params = {"source": "synthetic", "path": None, "duration_s": 0.22, "snr_db": 0.0,
              "repeat_period_s": [0.75, 1.5]}
    out = tmp_path / "triggers" / "click.wav"
    assert stage_main("trigger", ["--params", json.dumps(params), "--seed", "7", "--out", str(out)]) == 0
    info = json.loads((tmp_path / "triggers" / "click.wav.json").read_text())
    assert info["sr"] == SR and info["n_samples"] == 3520 and info["source"] == "synthetic"
    from slm_backdoor.lineage import sha256_file
    assert info["sha256"] == sha256_file(out)
    assert json.loads((tmp_path / "triggers" / "click.wav.lineage.json").read_text())["stage"] == "trigger"
    np.testing.assert_array_equal(sf.read(out, dtype="float32")[0], synth_click(SR, 0.22, 7))
    # a file named as the trigger is used as is
    out2 = tmp_path / "t2" / "file.wav"
    assert stage_main("trigger", ["--params", json.dumps({"source": str(out)}), "--out", str(out2)]) == 0
    capsys.readouterr()
    bad = tmp_path / "bad"
    (tmp_path / "x.txt").write_text("hello")
    for p in [{"source": "synthetic", "duration_s": -1}, {"source": str(tmp_path / "x.txt")},
              {"source": str(tmp_path / "nope.wav")}, {"source": 3}]:
        assert stage_main("trigger", ["--params", json.dumps(p), "--out", str(bad / "c.wav")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("trigger: error:")
    assert stage_main("trigger", ["--params", "{not json", "--out", str(bad / "c.wav")]) == 2
    assert not bad.exists()
