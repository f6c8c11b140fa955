"""The cluster profiles (workflow/profiles/slurm, slurm-gpu): the resources they give each
rule (a dry run, always), and the workflow on a real SLURM cluster (opt-in):

    scripts/slurm_localhost.sh                      # a single-node SLURM here (root)
    SLM_TEST_SLURM=1 .venv/bin/pytest -m slurm tests/test_slurm.py

The SLURM run (the smoke profile's T1 table with one encoder: 30 jobs, each an sbatch job)
is skipped unless SLM_TEST_SLURM=1 and `sinfo` answers; it takes about 4 minutes on two
cores, every job waiting for Snakemake's status polling.
"""
import csv
import os
import re
import shutil
import subprocess

import pytest

from helpers import SMOKE, copy_workflow, snakemake

T1 = "results/tables/T1_base_attack.csv"


def why_no_slurm() -> str | None:
    if os.environ.get("SLM_TEST_SLURM") != "1":
        return "SLURM tests are opt-in: SLM_TEST_SLURM=1"
    try:
        ok = bool(shutil.which("sinfo")) and subprocess.run(
            ["sinfo", "-h"], capture_output=True, timeout=10).returncode == 0
    except subprocess.TimeoutExpired:
        ok = False
    return None if ok else "no SLURM here (sinfo fails): start one with scripts/slurm_localhost.sh"


NO_SLURM = why_no_slurm()


@pytest.mark.parametrize("profile, expected", [
    ("slurm", {"mem_mb": "4500", "runtime": "30", "slurm_partition": "debug", "threads": "1"}),
    ("slurm-gpu", {"mem_mb": "64000", "runtime": "2880", "gpu": "1", "threads": "8"}),
])
def test_cluster_profile_sizes_the_training_jobs(tmp_path, profile, expected):
    work = copy_workflow(tmp_path / "dry")
    # --cores: a dry run otherwise scales every job down to one thread.
    r = snakemake(work, "-n", "--cores", "64", "--workflow-profile", f"workflow/profiles/{profile}",
                  "--configfile", SMOKE, "--", T1)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    job = re.search(r"^rule train:\n.*?^\s+resources: (.*?)\nShell command: (.*?)$", out, re.M | re.S)
    assert job, out[-3000:]
    resources = dict(kv.split("=", 1) for kv in job.group(1).split(", "))
    resources["threads"] = re.search(r"SLM_THREADS=(\d+)", job.group(2)).group(1)
    assert {k: resources.get(k) for k in expected} == expected


@pytest.mark.slurm
@pytest.mark.skipif(NO_SLURM is not None, reason=str(NO_SLURM))
def test_smoke_t1_on_slurm(tmp_path):
    work = copy_workflow(tmp_path / "slurm")
    (work / "one_encoder.yaml").write_text("encoders: [wavlm]\n")
    r = snakemake(work, "--workflow-profile", "workflow/profiles/slurm",
                  "--slurm-init-seconds-before-status-checks", "5",  # tiny jobs: poll early
                  "--configfile", SMOKE, "one_encoder.yaml", "--", T1, timeout=1800)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-6000:]

    done = re.findall(r"(\d+) of (\d+) steps \(100%\) done", out)
    submitted = re.findall(r"submitted with SLURM jobid (\d+)", out)
    assert done and len(submitted) == int(done[-1][1]), out[-3000:]  # every job went to SLURM
    rows = list(csv.DictReader((work / T1).open()))
    assert {(row["encoder"], row["task"]) for row in rows} == {
        ("wavlm", t) for t in ("asr", "emotion", "gender", "age")}

    r = snakemake(work, "-n", "--configfile", SMOKE, "one_encoder.yaml", "--", T1)
    assert "Nothing to be done" in r.stdout + r.stderr, (r.stdout + r.stderr)[-3000:]
