"""Atomic writes, content hashes and lineage records (base layer: no project imports)."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_tree(path: str | os.PathLike) -> str:
    """Hash of a file, or of a directory (relative names and file hashes, sorted; hidden
    files such as Snakemake's `.snakemake_timestamp` are not content)."""
    p = Path(path)
    if p.is_file():
        return sha256_file(p)
    h = hashlib.sha256()
    for f in sorted(q for q in p.rglob("*") if q.is_file() and not q.name.startswith(".")):
        h.update(str(f.relative_to(p)).encode())
        h.update(sha256_file(f).encode())
    return h.hexdigest()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling path; rename it onto `path` only if the block succeeds.

    Works for files and directories: nothing half-written is ever left at `path`, even
    when the process is killed (an old directory is moved aside whole, then replaced).
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp.{final.name}.", dir=final.parent))
    target = tmp / final.name
    try:
        yield target
        if final.is_dir() and not final.is_symlink():
            os.replace(final, tmp / ".old")  # a kill here leaves no half-deleted directory
        os.replace(target, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def code_version() -> dict:
    """Git commit and dirty flag of the checkout this package runs from (None outside a git
    checkout): the code that ran, wherever the workflow's working directory is."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True, cwd=here).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                    capture_output=True, text=True, check=True,
                                    cwd=here).stdout.strip())
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def lineage_path(artifact: str | os.PathLike) -> Path:
    """Where the lineage record of an artifact lives: `<artifact>.lineage.json` beside it."""
    a = Path(artifact)
    return a.parent / f"{a.name}.lineage.json"


def write_lineage(artifact: str | os.PathLike, stage: str, inputs: dict, params: dict | None = None,
                  extra: dict | None = None) -> dict:
    """Record what made `artifact`: stage, input paths with their hashes, params, code version."""
    record = {
        "artifact": str(artifact),
        "sha256": sha256_tree(artifact),
        "stage": stage,
        "inputs": {k: {"path": str(v), "sha256": sha256_tree(v)} for k, v in inputs.items()
                   if v is not None and Path(v).exists()},
        "params": params or {},
        "code": code_version(),
    }
    if extra:
        record.update(extra)
    write_json_atomic(lineage_path(artifact), record)
    return record


class IntegrityError(ValueError):
    """An input's content differs from the hash in its own lineage record."""


def record_of(path: str | os.PathLike) -> tuple[Path, dict] | None:
    """The lineage record that covers `path`: its own, or that of the directory holding it
    (a component such as RUN/lora of a recorded run directory). None if neither has one."""
    p = Path(path)
    for artifact in (p, p.parent):
        rec = lineage_path(artifact)
        if rec.is_file():
            try:
                return artifact, json.loads(rec.read_text())
            except json.JSONDecodeError as e:
                raise IntegrityError(f"{rec}: unreadable lineage record ({e})") from None
    return None


def verify_input(path: str | os.PathLike) -> None:
    """Refuse to read an artifact (or a component of one) that no longer has the sha256 its
    lineage record holds: a file edited by hand, a checkpoint swapped for another. Raises
    IntegrityError naming the file and both hashes. An input without a record (a file
    from outside the pipeline) or that does not exist is left to its reader."""
    found = record_of(path)
    if found is None or not found[0].exists():
        return
    artifact, rec = found
    actual = sha256_tree(artifact)
    if actual != rec.get("sha256"):
        raise IntegrityError(f"{artifact}: content differs from its lineage record "
                             f"(expected sha256 {rec.get('sha256')}, actual {actual}); "
                             f"rebuild it or restore the original")
