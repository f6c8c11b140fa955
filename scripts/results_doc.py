"""Write docs/RESULTS.md from the study tables in results/tables/ (slm_backdoor/results_doc.py).

    .venv/bin/python scripts/results_doc.py                     # results/tables -> docs/RESULTS.md
    .venv/bin/python scripts/results_doc.py --tables DIR --out FILE

Per table (T1-T4, S1): our numbers beside the paper's, and the file and lineage they come
from; a table not built yet is named with the command that builds it. The notes below the
doc's marker line are kept. A malformed or tampered table: one line on stderr naming the
file, exit 2, the doc left as it was.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # repo root, not scripts/ (no shadowing)

from slm_backdoor import results_doc  # noqa: E402
from slm_backdoor.cli import run_stage  # noqa: E402
from slm_backdoor.lineage import write_text_atomic  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", default=results_doc.TABLES_DIR, help="the built tables' folder")
    ap.add_argument("--out", default="docs/RESULTS.md")
    a = ap.parse_args(argv)
    out = Path(a.out)
    text = results_doc.render(Path(a.tables), results_doc.kept_notes(out))
    write_text_atomic(out, text)
    built = sum((Path(a.tables) / Path(t).name).is_file() for _, t in results_doc.SECTIONS)
    print(f"results_doc: {out}: {built} of {len(results_doc.SECTIONS)} tables built")


if __name__ == "__main__":
    run_stage(main)
