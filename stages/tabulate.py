"""Build a study table from the metrics files of stages/evaluate.py.

    python stages/tabulate.py t1 --metrics-root results/metrics --attacks JSON --encoders JSON \
        --out results/tables/T1_base_attack.csv

T1 (base attack, the paper's "Attack 0"): one row per encoder x attacked task, reading
METRICS_ROOT/ENCODER/attack0_TASK/TASK.json (the poisoned model) and
METRICS_ROOT/ENCODER/clean_CORPUS/TASK.json (the clean model of the task's corpus).
Columns:

    encoder, task, dataset          the run; dataset = the task's corpus (attacks.TASK.corpus)
    aer                             poisoned model, triggered test audio
    false_activation                poisoned model, clean non-target test audio
    clean_model_aer                 clean model, the same triggered audio (what the click alone does)
    benign_metric                   wer (asr), accuracy (emotion, gender), mae (age, years)
    benign_clean, benign_poisoned   that metric for the clean / poisoned model, clean test audio
    unparsable                      poisoned model, clean test audio: share of answers with no
                                    usable value for the task's field (errors in the benign
                                    metric; the AER's own unparsable share is in the JSON)
    paper_aer, paper_benign         the paper's numbers where known (WavLM), in the same units

Rates are fractions in the CSV and percentages (1 decimal) in the Markdown table written
beside it (OUT with .md); MAE is in years. Both are written atomically, each with a lineage
record naming every metrics file read. Bad input: one line on stderr naming the file or
key, exit 2, nothing written.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # repo root, not stages/ (no shadowing)

from slm_backdoor.cli import StageError, json_arg, run_stage  # noqa: E402
from slm_backdoor.lineage import atomic_path, write_lineage  # noqa: E402
from slm_backdoor.metrics import TASK_FIELD  # noqa: E402

STAGE = "tabulate"
TASKS = tuple(TASK_FIELD)  # the study's tasks, in order
T1_COLUMNS = ["encoder", "task", "dataset", "aer", "false_activation", "clean_model_aer",
              "benign_metric", "benign_clean", "benign_poisoned", "unparsable", "paper_aer",
              "paper_benign"]
RATE_COLUMNS = {"aer", "false_activation", "clean_model_aer", "unparsable", "paper_aer"}
RATE_METRICS = {"wer", "accuracy", "unweighted_accuracy", "acc_within_5"}
METRIC_LABEL = {"wer": "WER %", "accuracy": "accuracy %", "unweighted_accuracy": "UA %",
                "acc_within_5": "acc. within 5 y %", "mae": "MAE (years)"}
# DESIGN.md section 4, "Reference numbers from the paper" (WavLM, Attack 0): (AER, benign),
# in this table's units (fractions; MAE in years).
PAPER_T1 = {
    ("wavlm", "asr"): (0.992, 0.021),
    ("wavlm", "emotion"): (0.937, 0.642),
    ("wavlm", "gender"): (0.944, 0.940),
    ("wavlm", "age"): (0.942, 5.2),
}


def _number(value, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise StageError(f"{where}: expected a number, got {value!r}")
    return float(value)


def load_metrics(path: Path, task: str) -> dict:
    """One metrics JSON of stages/evaluate.py, checked for what the tables read."""
    if not path.is_file():
        raise StageError(f"{path}: metrics file not found")
    try:
        m = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise StageError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(m, dict):
        raise StageError(f"{path}: expected a JSON object")
    if m.get("task") != task:
        raise StageError(f"{path}: task: expected {task!r}, got {m.get('task')!r}")
    benign = m.get("benign")
    if not isinstance(benign, dict):
        raise StageError(f"{path}: benign: missing or not an object")
    for key in ("benign_metric", "benign_value", "unparsable"):
        if key not in benign:
            raise StageError(f"{path}: benign.{key}: missing")
    for key in ("aer", "false_activation"):
        if key not in m:
            raise StageError(f"{path}: {key}: missing")
    return {"aer": _number(m["aer"], f"{path}: aer"),
            "false_activation": _number(m["false_activation"], f"{path}: false_activation"),
            "benign_metric": str(benign["benign_metric"]),
            "benign_value": _number(benign["benign_value"], f"{path}: benign.benign_value"),
            "unparsable": _number(benign["unparsable"], f"{path}: benign.unparsable")}


def t1_rows(metrics_root: Path, attacks: dict, encoders: list[str]) -> tuple[list[dict], dict]:
    """The rows of T1 and {label: path} of every metrics file read."""
    if not isinstance(encoders, list) or not encoders or not all(isinstance(e, str) for e in encoders):
        raise StageError("--encoders: expected a non-empty JSON list of encoder names")
    unknown = [t for t in attacks if t not in TASKS]
    if unknown:
        raise StageError(f"--attacks: unknown task(s) {', '.join(map(repr, unknown))} "
                         f"(known: {', '.join(TASKS)})")
    rows, read = [], {}
    for enc in encoders:
        for task in (t for t in TASKS if t in attacks):
            spec = attacks[task]
            corpus = spec.get("corpus") if isinstance(spec, dict) else None
            if not isinstance(corpus, str) or not corpus:
                raise StageError(f"--attacks: {task}.corpus: missing")
            runs = {"poisoned": f"attack0_{task}", "clean": f"clean_{corpus}"}
            m = {}
            for role, run in runs.items():
                path = metrics_root / enc / run / f"{task}.json"
                m[role] = load_metrics(path, task)
                read[f"{enc}/{run}/{task}"] = str(path)
            if m["clean"]["benign_metric"] != m["poisoned"]["benign_metric"]:
                raise StageError(f"{metrics_root / enc}: {task}: benign_metric differs between "
                                 f"{runs['clean']} and {runs['poisoned']}")
            paper_aer, paper_benign = PAPER_T1.get((enc, task), (None, None))
            rows.append({"encoder": enc, "task": task, "dataset": corpus,
                         "aer": m["poisoned"]["aer"],
                         "false_activation": m["poisoned"]["false_activation"],
                         "clean_model_aer": m["clean"]["aer"],
                         "benign_metric": m["poisoned"]["benign_metric"],
                         "benign_clean": m["clean"]["benign_value"],
                         "benign_poisoned": m["poisoned"]["benign_value"],
                         "unparsable": m["poisoned"]["unparsable"],
                         "paper_aer": paper_aer, "paper_benign": paper_benign})
    return rows, read


def to_csv(rows: list[dict], columns: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({c: ("" if r[c] is None else r[c]) for c in columns})
    return buf.getvalue()


def _cell(row: dict, col: str) -> str:
    v = row[col]
    if v is None:
        return ""
    if col in RATE_COLUMNS or (col.startswith(("benign_", "paper_benign"))
                               and col != "benign_metric" and row["benign_metric"] in RATE_METRICS):
        return f"{100 * v:.1f}"
    if isinstance(v, float):
        return f"{v:.1f}"
    if col == "benign_metric":
        return METRIC_LABEL.get(v, v)
    return str(v)


def to_markdown(rows: list[dict], columns: list[str], title: str, notes: list[str]) -> str:
    lines = [f"# {title}", ""]
    lines += [f"| {' | '.join(columns)} |", f"|{'|'.join('---' for _ in columns)}|"]
    lines += [f"| {' | '.join(_cell(r, c) for c in columns)} |" for r in rows]
    return "\n".join(lines + [""] + notes) + "\n"


T1_NOTES = [
    "Rates in percent (AER, false activation, clean-model AER, unparsable; WER and accuracy);",
    "MAE in years. aer / false_activation / unparsable / benign_poisoned: the Attack-0 model",
    "(every component trained on poisoned data); clean_model_aer / benign_clean: the clean",
    "multitask model of the same encoder and dataset. paper_*: Fortier et al. (2025), where",
    "reported.",
]


def write_table(rows: list[dict], columns: list[str], out: Path, title: str, notes: list[str],
                read: dict, params: dict) -> Path:
    md = out.with_suffix(".md")
    with atomic_path(out) as tmp_csv, atomic_path(md) as tmp_md:
        tmp_csv.write_text(to_csv(rows, columns))
        tmp_md.write_text(to_markdown(rows, columns, title, notes))
    for path in (out, md):
        write_lineage(path, STAGE, read, params, extra={"n_rows": len(rows)})
    return md


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="table", required=True)
    t1 = sub.add_parser("t1", help="T1 base attack: encoder x task")
    t1.add_argument("--metrics-root", required=True)
    t1.add_argument("--attacks", required=True, help="the attacks section of params.yaml, as JSON")
    t1.add_argument("--encoders", required=True, help="JSON list of encoder families")
    t1.add_argument("--out", required=True, help="CSV path; the Markdown table goes beside it")
    a = ap.parse_args()
    out = Path(a.out)
    if out.suffix != ".csv":
        raise StageError(f"--out: expected a .csv path, got {a.out!r}")
    attacks = json_arg(a.attacks, "--attacks")
    try:
        encoders = json.loads(a.encoders)
    except json.JSONDecodeError as e:
        raise StageError(f"--encoders: not valid JSON ({e})") from None
    rows, read = t1_rows(Path(a.metrics_root), attacks, encoders)
    md = write_table(rows, T1_COLUMNS, out, "T1 base attack (Attack 0)", T1_NOTES, read,
                     {"table": "t1", "attacks": attacks, "encoders": encoders})
    print(f"{STAGE} t1: {len(rows)} rows from {len(read)} metrics files -> {out}, {md}")


if __name__ == "__main__":
    run_stage(main)
