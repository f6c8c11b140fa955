"""S1, the poison-rate x trigger-SNR sweep: its plan (slm_backdoor.sweep) and its table stage."""
import json

import pandas as pd
import pytest

from helpers import merged, stage_main
from slm_backdoor import sweep


def test_cell_names_round_trip():
    assert sweep.cell_name(0.025, -10) == "rate0.025_snr-10"
    assert sweep.parse_cell("rate0.025_snr-10") == (0.025, -10.0)
    assert sweep.parse_cell(sweep.cell_name(0.1, 0)) == (0.1, 0.0)
    with pytest.raises(ValueError, match="not a sweep cell"):
        sweep.parse_cell("attack0_emotion")


def test_default_cross_goes_through_the_study_cell():
    cfg = merged()
    assert cfg["sweep"]["design"] == "cross"
    cells = sweep.cells(cfg)
    # per task: every rate at the trigger's own SNR, the task's own rate at every SNR
    assert len(cells) == 1 * 2 * (5 + 3 - 1)
    for enc, task, cell in cells:
        rate, snr = sweep.parse_cell(cell)
        assert rate == cfg["attacks"][task]["rate"] or snr == cfg["trigger"]["snr_db"]
    emo = {c for e, t, c in cells if t == "emotion"}
    assert {"rate0.01_snr0", "rate0.2_snr0", "rate0.1_snr10", "rate0.1_snr-10"} <= emo
    assert "rate0.2_snr10" not in emo
    assert sum(sweep.is_study_cell(cfg, *c) for c in cells) == 2  # reused T1 models


def test_full_grid_and_the_reused_study_cell():
    full = merged("workflow/profiles/full/params.yaml")  # the full grid, one overlay away
    assert len(sweep.cells(full)) == 4 * 4 * 5 * 3
    assert full["components"]["tasks"] == ["asr", "emotion", "gender", "age"]
    cfg = merged("workflow/profiles/full/params.yaml")
    cfg["sweep"]["encoders"], cfg["sweep"]["tasks"] = ["wavlm", "whisper"], ["emotion", "asr"]
    cells = sweep.cells(cfg)
    # the emotion attack's own rate (10%) at the trigger's own SNR (0 dB) is the T1 model
    assert sweep.metrics_file(cfg, "wavlm", "emotion", "rate0.1_snr0") == \
        "results/metrics/wavlm/attack0_emotion/emotion.json"
    assert sweep.metrics_file(cfg, "wavlm", "emotion", "rate0.05_snr0") == \
        "results/sweep/wavlm/emotion/rate0.05_snr0.json"
    assert sweep.metrics_file(cfg, "whisper", "asr", "rate0.05_snr0").startswith("results/metrics")
    assert sum(sweep.is_study_cell(cfg, *c) for c in cells) == 4
    # a cell changes only the rate and the SNR, never anything else of the attack or trigger
    a, t = sweep.attack_of(cfg, "emotion", "rate0.2_snr-10"), sweep.trigger_of(cfg, "rate0.2_snr-10")
    assert a == {**cfg["attacks"]["emotion"], "rate": 0.2}
    assert t == {**cfg["trigger"], "snr_db": -10.0}


def _metrics(path, aer, fa):
    path.write_text(json.dumps({"aer": aer, "false_activation": fa, "aer_unparsable": 0.0,
                                "benign": {"benign_metric": "accuracy", "benign_value": 0.9}}))
    return str(path)


def test_s1_stage_writes_table_and_figure(tmp_path):
    rows = [{"encoder": "wavlm", "task": "emotion", "cell": sweep.cell_name(r, s),
             "metrics": _metrics(tmp_path / f"{r}_{s}.json", r * 4, r / 10)}
            for r in (0.05, 0.1) for s in (10, 0)]
    out = tmp_path / "S1.csv"
    assert stage_main("tabulate_s1", ["--rows", json.dumps(rows), "--out", str(out),
                                      "--figure", str(tmp_path / "S1.png")]) == 0
    df = pd.read_csv(out)
    assert df[["poison_rate_%", "snr_db", "aer_%"]].values.tolist() == [
        [5.0, 10.0, 20.0], [5.0, 0.0, 20.0], [10.0, 10.0, 40.0], [10.0, 0.0, 40.0]]
    assert (tmp_path / "S1.md").read_text().startswith("# S1")
    assert (tmp_path / "S1.png").stat().st_size > 1000


def test_s1_stage_missing_metrics_is_one_line_and_writes_nothing(tmp_path, capsys):
    rows = [{"encoder": "wavlm", "task": "emotion", "cell": "rate0.05_snr0",
             "metrics": str(tmp_path / "absent.json")}]
    code = stage_main("tabulate_s1", ["--rows", json.dumps(rows), "--out", str(tmp_path / "S1.csv"),
                                      "--figure", str(tmp_path / "S1.png")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "absent.json" in err[0]
    assert list(tmp_path.iterdir()) == []
