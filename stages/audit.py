"""Print the lineage of a table row, metrics file, checkpoint or any recorded artifact.

    python stages/audit.py results/tables/T1_base_attack.csv --row encoder=wavlm,task=emotion
    python stages/audit.py models/runs/wavlm/attack0_emotion --json

Walks the <artifact>.lineage.json records: metrics -> checkpoint components -> poisoned and
clean manifests -> trigger -> corpus manifests, with the params and code version (git
commit, dirty flag) of each step, and checks every artifact on disk against the hash
recorded when it was made. Where dvc.lock (--dvc-lock) records an artifact, as an out or
inside one, DVC's md5 is shown beside it and checked too. Exit 1 if anything is missing or
changed.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # repo root, not stages/ (no shadowing)

from slm_backdoor.audit import problems, render, trace  # noqa: E402
from slm_backdoor.cli import StageError, run_stage  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("artifact")
    ap.add_argument("--row", default=None, help="table row as key=value,key=value")
    ap.add_argument("--json", action="store_true", help="machine-readable chain")
    ap.add_argument("--dvc-lock", default="dvc.lock",
                    help="DVC lock file to compare with, if it exists (default: dvc.lock)")
    a = ap.parse_args()
    if not Path(a.artifact).exists():
        raise StageError(f"{a.artifact}: no such artifact")
    row = None
    if a.row:
        try:
            row = dict(kv.split("=", 1) for kv in a.row.split(","))
        except ValueError:
            raise StageError(f"--row: expected key=value,key=value, got {a.row!r}") from None
    tree = trace(a.artifact, row, a.dvc_lock)
    bad = problems(tree)
    if a.json:
        print(json.dumps({"chain": tree, "problems": bad}, indent=2, default=str))
    else:
        print("\n".join(render(tree)))
        print("\n".join(["", "PROBLEMS:", *bad]) if bad else "\nall artifacts match their records")
    if bad:
        sys.exit(1)


if __name__ == "__main__":
    run_stage(main)
