"""Sharing artifacts through a DVC remote: `dvc repro` a smoke study in a scratch git repo
made from the working tree, `dvc push` to a local remote, clone afresh and pull with
scripts/dvc_pull.sh; then no DVC stage is stale and Snakemake has nothing to do.

DVC tracks params.yaml, so the scratch repo's params.yaml is the smoke overlay (one encoder)
merged over it: for DVC, a profile is a params.yaml. A few minutes on two cores: `slow`.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import ROOT, SMOKE, T1, merged, snakemake

pytestmark = pytest.mark.slow
GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost",
       "-c", "init.defaultBranch=main"]


def run(cmd: list[str], cwd: Path, timeout=300) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE")}
    r = subprocess.run(cmd, cwd=cwd, env={**env, "DVC_NO_ANALYTICS": "1"}, capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))}: {(r.stdout + r.stderr)[-4000:]}"
    return r.stdout + r.stderr


def dvc(cwd: Path, *args, timeout=300) -> str:
    return run([sys.executable, "-m", "dvc", *args], cwd, timeout)


def use_store(repo: Path, store: Path) -> None:
    """The repository's venv (a link, which git must not see) and the test's store as the
    `local` remote (in .dvc/config.local, as a user points the remote elsewhere)."""
    (repo / ".venv").symlink_to(ROOT / ".venv")
    (repo / ".git" / "info" / "exclude").write_text(".venv\n")  # .gitignore's `.venv/` is a folder
    dvc(repo, "remote", "modify", "--local", "local", "url", str(store))


def scratch_repo(dest: Path) -> Path:
    """A git repo holding the working tree as it is (tracked and new files, not ignored ones),
    with the smoke overlay, cut to one encoder, merged into params.yaml."""
    files = run(["git", "ls-files", "-co", "--exclude-standard", "-z"], ROOT).split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    params = {**merged(SMOKE), "encoders": ["wavlm"]}
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run([*GIT, "init", "-q"], dest)
    run([*GIT, "add", "-A"], dest)
    run([*GIT, "commit", "-qm", "scratch"], dest)
    return dest


def test_push_clone_pull_is_up_to_date(tmp_path):
    store = tmp_path / "store"
    repo = scratch_repo(tmp_path / "repo")
    use_store(repo, store)
    dvc(repo, "repro", timeout=1200)
    run([*GIT, "add", "-A"], repo)  # dvc.lock and the .gitignore entries of the outputs
    run([*GIT, "commit", "-qm", "repro"], repo)
    dvc(repo, "push")

    fresh = tmp_path / "fresh"
    run([*GIT, "clone", "-q", str(repo), str(fresh)], tmp_path)
    use_store(fresh, store)
    run([str(fresh / "scripts" / "dvc_pull.sh")], fresh)

    assert (fresh / T1).read_bytes() == (repo / T1).read_bytes()
    assert "Data and pipelines are up to date" in dvc(fresh, "status")
    r = snakemake(fresh, "-n")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Nothing to be done" in r.stdout + r.stderr, (r.stdout + r.stderr)[-4000:]
