"""scripts/rule_times.py: per-rule times from Snakemake benchmark files."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _bench(root: Path, rel: str, s: float, cpu: float, rss: float, end: float) -> None:
    path = root / "benchmarks" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{s}\t0:00:00\t{rss}\t0\t0\t0\t0\t0\t100\t{cpu}\n")
    os.utime(path, (end, end))


def _run(root: Path):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "rule_times.py"),
                           "--root", str(root)], capture_output=True, text=True, timeout=60)


def test_rule_times_sums_per_rule_and_measures_the_span(tmp_path):
    _bench(tmp_path, "train/wavlm/a.tsv", 100.0, 90.0, 2000, end=1_000_100)  # 1_000_000-1_000_100
    _bench(tmp_path, "train/wavlm/b.tsv", 200.0, 180.0, 2100, end=1_000_250)  # 1_000_050-1_000_250
    _bench(tmp_path, "evaluate/wavlm/a/asr.tsv", 20.0, 19.0, 900, end=1_000_300)
    r = _run(tmp_path)
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0]: line.split() for line in r.stdout.splitlines()[1:3]}
    assert rows["train"][1:5] == ["2", "150.0", "200.0", "300.0"]
    assert rows["train"][5:] == ["270.0", "2100"]
    assert rows["evaluate"][1:5] == ["1", "20.0", "20.0", "20.0"]
    last = r.stdout.splitlines()[-1]
    assert last.startswith("3 jobs: 5.3 min of job time, 2.7 min over 2 cores")
    assert "observed span 5.0 min" in last  # 1_000_000 .. 1_000_300


def test_rule_times_names_a_malformed_benchmark_file(tmp_path):
    bad = tmp_path / "benchmarks" / "train" / "x.tsv"
    bad.parent.mkdir(parents=True)
    bad.write_text("seconds\n12\n")
    r = _run(tmp_path)
    assert r.returncode == 1
    assert r.stderr.strip() == f"error: {bad}: not a Snakemake benchmark file (no column 's')"
    assert _run(tmp_path / "nowhere").returncode == 1
