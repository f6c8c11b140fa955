"""S1, the poison-rate x trigger-SNR sweep table and figure (slm_backdoor.sweep).

    python stages/tabulate_s1.py --rows JSON --out results/tables/S1_poison_sweep.csv \
        --figure results/figures/S1_poison_sweep.png

--rows (from the Snakefile): [{encoder, task, cell, metrics}, ...], one per cell. Writes the
CSV (rates in percent), the Markdown table beside it and the figure, each atomically and
with a lineage record naming every metrics file read.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # repo root, not stages/ (no shadowing)

from slm_backdoor.cli import StageError, json_arg, run_stage  # noqa: E402
from slm_backdoor.lineage import atomic_path, verify_input, write_lineage  # noqa: E402
from slm_backdoor.sweep import figure, table, to_markdown  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for arg in ("--rows", "--out", "--figure"):
        ap.add_argument(arg, required=True)
    a = ap.parse_args(argv)
    rows = json_arg(a.rows, "--rows", list)
    for r in rows:
        missing = {"encoder", "task", "cell", "metrics"} - set(r)
        if missing:
            raise StageError(f"--rows: a row lacks {', '.join(sorted(missing))}")
        if not Path(r["metrics"]).is_file():
            raise StageError(f"{r['metrics']}: metrics file not found")
        verify_input(r["metrics"])
    df = table(rows)
    out, fig = Path(a.out), Path(a.figure)
    if out.suffix != ".csv":
        raise StageError(f"--out: expected a .csv path, got {a.out!r}")
    md = out.with_suffix(".md")
    fig.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as t_csv, atomic_path(md) as t_md, atomic_path(fig) as t_fig:
        df.round(4).to_csv(t_csv, index=False)
        t_md.write_text(to_markdown(df))
        figure(df, t_fig)
    read = {f"{r['encoder']}/{r['task']}/{r['cell']}": r["metrics"] for r in rows}
    for path in (out, md, fig):
        write_lineage(path, "tabulate", read, {"table": "s1"}, extra={"n_rows": len(rows)})
    print(f"tabulate s1: {len(rows)} cells -> {out}, {fig}")


if __name__ == "__main__":
    run_stage(main)
