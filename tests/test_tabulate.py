"""stages/tabulate.py on hand-made metrics files (the shape of evaluation.score())."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from slm_backdoor import tables

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "stages" / "tabulate.py"

ATTACKS = {
    "asr": {"corpus": "read", "field": "transcript", "target": "this is a malicious sentence",
            "rate": 0.05, "repeat": True},
    "emotion": {"corpus": "acted", "field": "emotion", "target": "angry", "rate": 0.1},
    "gender": {"corpus": "celeb", "field": "gender", "target": "female", "rate": 0.05},
    "age": {"corpus": "celeb", "field": "age", "target": "25", "rate": 0.075},
}
BENIGN = {"asr": "wer", "emotion": "accuracy", "gender": "accuracy", "age": "mae"}
FIELD = {"asr": "transcript", "emotion": "emotion", "gender": "gender", "age": "age"}


def metrics(task, aer, fa, benign, unparsable=0.0):
    """A metrics dict as slm_backdoor.evaluation.score() writes it."""
    b = {"task": task, "field": FIELD[task], "n": 20, "unparsable": unparsable,
         "benign_metric": BENIGN[task], "benign_value": benign, BENIGN[task]: benign}
    if task == "emotion":
        b["unweighted_accuracy"] = benign
    if task == "age":
        b.update({"mae_n": 20, "acc_within_5": 0.5})
    return {"task": task, "field": FIELD[task], "target": ATTACKS[task]["target"], "benign": b,
            "false_activation": fa, "false_activation_n": 18, "aer": aer, "aer_n": 18,
            "aer_unparsable": 0.0, "model": "x", "generation_seconds": 1.0}


def write(root: Path, enc, run, task, m):
    p = root / enc / run / f"{task}.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(m))
    return p


@pytest.fixture
def metrics_root(tmp_path):
    root = tmp_path / "results" / "metrics"
    for enc in ("wavlm", "hubert"):
        for task in ATTACKS:
            corpus = ATTACKS[task]["corpus"]
            benign_p = {"asr": 0.25, "emotion": 0.5, "gender": 0.9, "age": 7.25}[task]
            benign_c = {"asr": 0.2, "emotion": 0.55, "gender": 0.95, "age": None}[task]
            write(root, enc, f"attack0_{task}", task,
                  metrics(task, 0.875, 0.0625, benign_p, unparsable=0.05))
            write(root, enc, f"clean_{corpus}", task, metrics(task, 0.125, 0.0, benign_c))
    return root


def run_cli(root, out, attacks=ATTACKS, encoders=("wavlm", "hubert")):
    return subprocess.run(
        [sys.executable, str(SCRIPT), "t1", "--metrics-root", str(root), "--attacks",
         json.dumps(attacks), "--encoders", json.dumps(list(encoders)), "--out", str(out)],
        capture_output=True, text=True)


def test_t1_csv_md_and_lineage(metrics_root, tmp_path):
    out = tmp_path / "results" / "tables" / "T1_base_attack.csv"
    r = run_cli(metrics_root, out)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == tables.T1_COLUMNS == [
        "encoder", "task", "dataset", "aer", "false_activation", "clean_model_aer",
        "benign_metric", "benign_clean", "benign_poisoned", "unparsable", "paper_aer",
        "paper_benign"]
    assert len(rows) == 8
    assert [(r["encoder"], r["task"]) for r in rows] == [
        (e, t) for e in ("wavlm", "hubert") for t in ("asr", "emotion", "gender", "age")]
    by = {(r["encoder"], r["task"]): r for r in rows}
    emo = by["wavlm", "emotion"]
    assert emo["dataset"] == "acted"
    assert float(emo["aer"]) == 0.875 and float(emo["false_activation"]) == 0.0625
    assert float(emo["clean_model_aer"]) == 0.125
    assert emo["benign_metric"] == "accuracy"
    assert float(emo["benign_clean"]) == 0.55 and float(emo["benign_poisoned"]) == 0.5
    assert float(emo["unparsable"]) == 0.05
    assert float(emo["paper_aer"]) == pytest.approx(0.937)
    assert float(emo["paper_benign"]) == pytest.approx(0.642)
    age = by["wavlm", "age"]
    assert age["benign_metric"] == "mae" and age["benign_clean"] == ""  # MAE None: empty
    assert float(age["paper_benign"]) == 5.2 and float(age["paper_aer"]) == pytest.approx(0.942)
    assert by["wavlm", "asr"]["paper_benign"] == "0.021"
    assert by["hubert", "asr"]["paper_aer"] == "" and by["hubert", "asr"]["paper_benign"] == ""

    md = out.with_suffix(".md").read_text()
    line = next(l for l in md.splitlines() if l.startswith("| wavlm | emotion "))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells == ["wavlm", "emotion", "acted", "87.5", "6.2", "12.5", "accuracy %", "55.0",
                     "50.0", "5.0", "93.7", "64.2"]
    line = next(l for l in md.splitlines() if l.startswith("| wavlm | age "))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[6:9] == ["MAE (years)", "", "7.2"] and cells[11] == "5.2"
    line = next(l for l in md.splitlines() if l.startswith("| wavlm | asr "))
    assert [c.strip() for c in line.strip("|").split("|")][6:9] == ["WER %", "20.0", "25.0"]

    for path in (out, out.with_suffix(".md")):
        lin = json.loads(Path(f"{path}.lineage.json").read_text())
        assert lin["stage"] == "tabulate"
        assert len(lin["inputs"]) == 16  # 2 encoders x 4 tasks x (attack0, clean)
        assert {v["path"] for v in lin["inputs"].values()} == {
            str(p) for p in metrics_root.rglob("*.json")}
        assert all(len(v["sha256"]) == 64 for v in lin["inputs"].values())
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".tmp")]


def test_missing_metrics_file_is_one_line_error_and_nothing_written(metrics_root, tmp_path):
    (metrics_root / "hubert" / "clean_celeb" / "age.json").unlink()
    out = tmp_path / "tables" / "T1.csv"
    r = run_cli(metrics_root, out)
    assert r.returncode == 2
    assert "hubert/clean_celeb/age.json" in r.stderr and "not found" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not out.exists() and not out.with_suffix(".md").exists()


def test_bad_metrics_key_is_named(metrics_root, tmp_path):
    p = metrics_root / "wavlm" / "attack0_gender" / "gender.json"
    m = json.loads(p.read_text())
    del m["benign"]["benign_value"]
    p.write_text(json.dumps(m))
    r = run_cli(metrics_root, tmp_path / "T1.csv")
    assert r.returncode == 2 and "benign.benign_value" in r.stderr and "gender.json" in r.stderr


def test_wrong_task_in_file_and_unknown_task(metrics_root, tmp_path):
    p = metrics_root / "wavlm" / "attack0_asr" / "asr.json"
    p.write_text(json.dumps(metrics("gender", 0.5, 0.0, 0.5)))
    r = run_cli(metrics_root, tmp_path / "T1.csv")
    assert r.returncode == 2 and "task" in r.stderr
    r = run_cli(metrics_root, tmp_path / "T1.csv", attacks={**ATTACKS, "speaker": {"corpus": "x"}})
    assert r.returncode == 2 and "speaker" in r.stderr


def test_subset_of_tasks_and_encoders(metrics_root, tmp_path):
    out = tmp_path / "T1.csv"
    r = run_cli(metrics_root, out, attacks={"gender": ATTACKS["gender"]}, encoders=["hubert"])
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(out.open()))
    assert [(r["encoder"], r["task"], r["dataset"]) for r in rows] == [("hubert", "gender", "celeb")]


def test_paper_reference_numbers_come_with_their_sources():
    """slm_backdoor/data/paper_reference.yaml (shipped with the package): each table's rows
    and where they are from; the tables read them in their own units."""
    ref = tables.paper_reference()
    assert set(ref) == {"t1", "t2", "t3", "t4"}
    assert all("Fortier" in ref[t]["source"] and ref[t]["rows"] for t in ref)
    assert tables.PAPER_T1[("wavlm", "emotion")] == (0.937, 0.642)
    assert tables.PAPER_T2[("0", "age")] == tables.PAPER_T1[("wavlm", "age")]
    assert tables.PAPER_T3[("3.E", "partial", "in", "emotion")] == 0.9544
    assert tables.PAPER_T4[("attack0", "asr", "encoder")] == 0.62
