"""External checkpoints of the paper profile: a hub id or a local directory, pinned by sha256.

A checkpoint is named in params.yaml (`models.llm`, `models.encoders.FAMILY`) by `path`: a
local directory, or a hub id (`microsoft/wavlm-large`) already in the local Hugging Face
cache, which resolves to its snapshot directory (no download). Its pin `sha256` is the
tree hash the lineage records use (lineage.sha256_tree: every non-hidden file of the
directory, names and contents, sorted). Print the pins of what you have with

    python -m slm_backdoor.checkpoints TinyLlama/TinyLlama-1.1B-Chat-v1.0 /data/wavlm-large
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Iterable

from .lineage import IntegrityError, sha256_tree

_HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


def resolve_checkpoint(name_or_path: str | Path) -> Path:
    """The directory of a checkpoint: a local directory as it is, a hub id as its snapshot
    in the local hub cache. FileNotFoundError (naming it) when neither exists."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if _HUB_ID.fullmatch(str(name_or_path)):
        from huggingface_hub import snapshot_download
        try:
            return Path(snapshot_download(str(name_or_path), local_files_only=True))
        except (OSError, ValueError):
            raise FileNotFoundError(f"{name_or_path}: neither a local directory nor in the "
                                    f"Hugging Face hub cache (hf download {name_or_path})"
                                    ) from None
    raise FileNotFoundError(f"{name_or_path}: checkpoint directory not found")


def checkpoint_sha256(name_or_path: str | Path) -> str:
    return sha256_tree(resolve_checkpoint(name_or_path))


def _resolved(name_or_path) -> Path | None:
    try:
        return resolve_checkpoint(name_or_path).resolve()
    except FileNotFoundError:
        return None


def verify_pins(sources: Iterable, pins: dict | None) -> None:
    """Refuse a checkpoint that is not the one pinned. `pins`: config key -> {"path",
    "sha256"} (e.g. "models.llm"); each pin whose path is one of `sources` is checked.
    Raises IntegrityError naming the checkpoint and both hashes."""
    loaded = {_resolved(s) for s in sources if str(s) != "fresh"} - {None}
    for key, pin in (pins or {}).items():
        path = _resolved(pin["path"])
        if path not in loaded:
            continue
        actual = sha256_tree(path)
        if actual != pin["sha256"]:
            raise IntegrityError(f"checkpoint {key} ({pin['path']}): sha256 mismatch: "
                                 f"expected {pin['sha256']}, actual {actual}; restore the "
                                 f"checkpoint or update the pin")


def main(argv: list[str]) -> None:
    """Print `sha256  path` of each checkpoint named (the values to pin in params.yaml)."""
    if not argv:
        sys.exit("usage: python -m slm_backdoor.checkpoints HUB_ID_OR_DIR [...]")
    for name in argv:
        try:
            path = resolve_checkpoint(name)
        except FileNotFoundError as e:
            sys.exit(f"error: {e}")
        print(f"{sha256_tree(path)}  {name}  ({path})")


if __name__ == "__main__":
    main(sys.argv[1:])
