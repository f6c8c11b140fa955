"""The T3 defense curve: AER and the benign metric against defense steps, one panel pair
per task, from the probe curve each defense run recorded in its history.json.

    python stages/figure_t3.py --rows JSON --out results/figures/T3_defense_curve.png

--rows: the T3 rows (slm_backdoor.study.t3_rows: encoder, task, start, defense, domain, run,
history). Writes the PNG atomically with a lineage record naming every history read. Bad
input: one line on stderr naming the file or key, exit 2, nothing written.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # repo root, not stages/ (no shadowing)

from slm_backdoor.cli import StageError, json_arg, run_stage  # noqa: E402
from slm_backdoor.lineage import write_lineage  # noqa: E402
from slm_backdoor.tables import t3_figure  # noqa: E402

STAGE = "figure_t3"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", required=True, help="JSON list of T3 rows (labels + history)")
    ap.add_argument("--out", required=True, help="PNG path")
    a = ap.parse_args(argv)
    spec = json_arg(a.rows, "--rows", list)
    try:
        read = t3_figure(spec, Path(a.out))
    except KeyError as e:
        raise StageError(f"--rows: a row misses the key {e}") from None
    write_lineage(a.out, STAGE, read, {"figure": "t3", "rows": spec})
    print(f"{STAGE}: {len(spec)} defense curves from {len(read)} files -> {a.out}")


if __name__ == "__main__":
    run_stage(main)
