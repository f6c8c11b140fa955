"""Build a study table from the metrics files of stages/evaluate.py.

    python stages/tabulate.py t1 --metrics-root results/metrics --attacks JSON --encoders JSON \
        --out results/tables/T1_base_attack.csv
    python stages/tabulate.py t2 --rows JSON --out results/tables/T2_components.csv
    python stages/tabulate.py t3 --rows JSON --out results/tables/T3_defense.csv
    python stages/tabulate.py t4 --rows JSON --k JSON --out results/tables/T4_separability.csv

T1 reads METRICS_ROOT/ENCODER/{attack0_TASK,clean_CORPUS}/TASK.json; T2-T4 take their rows
as JSON (slm_backdoor.study: labels + the files each reads). The columns, the paper's
numbers and the formatting: slm_backdoor/tables.py. Writes the CSV and the Markdown table
beside it (OUT with .md), atomically, each with a lineage record naming every file read.
Bad input: one line on stderr naming the file or key, exit 2, nothing written.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # repo root, not stages/ (no shadowing)

from slm_backdoor import tables  # noqa: E402
from slm_backdoor.cli import StageError, json_arg, run_stage  # noqa: E402


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="table", required=True)
    t1 = sub.add_parser("t1", help="T1 base attack: encoder x task")
    t1.add_argument("--metrics-root", required=True)
    t1.add_argument("--attacks", required=True, help="the attacks section of params.yaml, as JSON")
    t1.add_argument("--encoders", required=True, help="JSON list of encoder families")
    for name in ("t2", "t3", "t4"):
        p = sub.add_parser(name, help=tables.TITLES[name])
        p.add_argument("--rows", required=True, help="JSON list of rows: labels + files read")
        if name == "t4":
            p.add_argument("--k", required=True, help="JSON list of k-means cluster counts")
    for p in sub.choices.values():
        p.add_argument("--out", required=True, help="CSV path; the Markdown table goes beside it")
    return ap


def build(a) -> tuple[list[dict], dict, list[str], list[str], dict]:
    """The table's rows, the files read, its columns and notes, and the params recorded."""
    if a.table == "t1":
        attacks = json_arg(a.attacks, "--attacks")
        try:
            encoders = json.loads(a.encoders)
        except json.JSONDecodeError as e:
            raise StageError(f"--encoders: not valid JSON ({e})") from None
        rows, read = tables.t1_rows(Path(a.metrics_root), attacks, encoders)
        params = {"table": "t1", "attacks": attacks, "encoders": encoders}
        return rows, read, tables.T1_COLUMNS, tables.T1_NOTES, params
    spec = json_arg(a.rows, "--rows", list)
    try:
        if a.table == "t2":
            rows, read = tables.t2_rows(spec)
            columns, notes = tables.T2_COLUMNS, tables.T2_NOTES
        elif a.table == "t3":
            rows, read = tables.t3_rows(spec)
            columns, notes = tables.T3_COLUMNS, tables.T3_NOTES
        else:
            rows, read, columns = tables.t4_rows(spec, json.loads(a.k))
            notes = tables.T4_NOTES
    except KeyError as e:
        raise StageError(f"--rows: a row misses the key {e}") from None
    return rows, read, columns, notes, {"table": a.table, "rows": spec}


def main(argv: list[str] | None = None) -> None:
    a = parser().parse_args(argv)
    out = Path(a.out)
    if out.suffix != ".csv":
        raise StageError(f"--out: expected a .csv path, got {a.out!r}")
    rows, read, columns, notes, params = build(a)
    md = tables.write_table(rows, columns, out, tables.TITLES[a.table], notes, read, params)
    print(f"{tables.STAGE} {a.table}: {len(rows)} rows from {len(read)} files -> {out}, {md}")


if __name__ == "__main__":
    run_stage(main)
