"""Per-rule times of a finished run, from Snakemake's benchmark files (benchmarks/<rule>/...).

    .venv/bin/python scripts/rule_times.py                                   # every job of the study
    .venv/bin/python scripts/rule_times.py results/tables/T1_base_attack.csv # the jobs T1 needs

With targets, the jobs counted are those `snakemake -n --forceall TARGET...` lists (their
benchmark paths), so a table's own cost can be read off a run that built everything.
Prints, per rule: jobs, mean / max / total seconds of wall time per job, CPU seconds and
peak RSS; then the sum of job times, that sum over the cores (the wall time of a perfectly
packed run) and the span actually observed (first job start to last job end, from each
benchmark file's modification time minus its duration).
"""
from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from collections import defaultdict
from pathlib import Path


def planned_benchmarks(targets: list[str], snakemake: str, root: Path) -> list[Path]:
    """Benchmark paths of every job that `targets` need (a forced dry run)."""
    cmd = [snakemake, "-n", "--forceall", "--cores", "1", *targets]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=root)
    if out.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} failed:\n{out.stderr.strip()[-2000:]}")
    return [Path(line.split(":", 1)[1].strip()) for line in out.stdout.splitlines()
            if line.strip().startswith("benchmark:")]


def read_benchmark(path: Path) -> dict:
    """The first row of one benchmark TSV (s, cpu_time, max_rss) and when the job ended."""
    with path.open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows or "s" not in rows[0]:
        raise ValueError(f"{path}: not a Snakemake benchmark file (no column 's')")

    def num(key: str) -> float:
        value = rows[0].get(key, "NA")
        return float(value) if value not in ("", "NA", "-") else 0.0
    return {"s": num("s"), "cpu": num("cpu_time"), "rss": num("max_rss"),
            "end": path.stat().st_mtime}


def summarise(files: list[Path], root: Path) -> tuple[dict, list[Path]]:
    by_rule, missing = defaultdict(list), []
    for f in files:
        path = f if f.is_absolute() else root / f
        if not path.exists():
            missing.append(f)
            continue
        rule = path.relative_to(root / "benchmarks").parts[0]
        by_rule[rule].append(read_benchmark(path))
    return dict(by_rule), missing


def report(by_rule: dict, cores: int) -> str:
    lines = [f"{'rule':22s} {'jobs':>5s} {'mean s':>8s} {'max s':>8s} {'total s':>9s} "
             f"{'cpu s':>9s} {'peak RSS MB':>12s}"]
    jobs = [j for js in by_rule.values() for j in js]
    for rule, js in sorted(by_rule.items(), key=lambda kv: -sum(j["s"] for j in kv[1])):
        total = sum(j["s"] for j in js)
        lines.append(f"{rule:22s} {len(js):5d} {total / len(js):8.1f} "
                     f"{max(j['s'] for j in js):8.1f} {total:9.1f} "
                     f"{sum(j['cpu'] for j in js):9.1f} {max(j['rss'] for j in js):12.0f}")
    if jobs:
        total = sum(j["s"] for j in jobs)
        span = max(j["end"] for j in jobs) - min(j["end"] - j["s"] for j in jobs)
        lines.append(f"{len(jobs)} jobs: {total / 60:.1f} min of job time, {total / cores / 60:.1f} "
                     f"min over {cores} cores if perfectly packed; observed span "
                     f"{span / 60:.1f} min (first start to last end)")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("targets", nargs="*", help="count only the jobs these targets need")
    ap.add_argument("--root", default=".", help="workflow directory (holds benchmarks/)")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--snakemake", default=str(Path(sys.executable).parent / "snakemake"))
    a = ap.parse_args()
    root = Path(a.root).resolve()
    if not (root / "benchmarks").is_dir():
        sys.exit(f"error: {root / 'benchmarks'}: no benchmark folder (run the workflow first)")
    if a.targets:
        files = planned_benchmarks(a.targets, a.snakemake, root)
    else:
        files = sorted((root / "benchmarks").rglob("*.tsv"))
    try:
        by_rule, missing = summarise(files, root)
    except ValueError as e:
        sys.exit(f"error: {e}")
    print(report(by_rule, a.cores))
    if missing:
        print(f"{len(missing)} planned job(s) have no benchmark file yet, e.g. {missing[0]}")


if __name__ == "__main__":
    main()
