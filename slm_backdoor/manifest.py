"""Manifests: one CSV per corpus split, the interface between every data stage."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .lineage import atomic_path, verify_input

COLUMNS = ["id", "path", "duration", "speaker", "dataset", "split",
           "transcript", "gender", "age", "emotion"]
EMOTIONS = ["angry", "disgust", "fear", "happy", "neutral", "sad"]
GENDERS = ["female", "male"]
# Extra columns of poisoned / triggered manifests.
POISON_COLUMNS = ["poisoned", "attacked_field", "target", "original_label",
                  "trigger_sha256", "trigger_positions", "trigger_snr_db"]


class ManifestError(ValueError):
    """A manifest is malformed; the message names the file, row and field."""


def read_manifest(path: str | os.PathLike, required: list[str] = COLUMNS) -> pd.DataFrame:
    """A manifest as strings, checked: its lineage record (if any) still matches it, every
    required column is there, labels are known. Errors name the file, row and field."""
    p = Path(path)
    if not p.exists():
        raise ManifestError(f"{p}: manifest not found")
    verify_input(p)
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise ManifestError(f"{p}: not a readable CSV manifest ({' '.join(str(e).split())})") from None
    df.attrs["manifest"] = str(p)  # lets readers of its rows name the file in errors
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ManifestError(f"{p}: missing column(s) {', '.join(missing)}")
    for i, row in df.iterrows():
        if row["gender"] and row["gender"] not in GENDERS:
            raise ManifestError(f"{p}: row {i + 2}, field gender: unknown label {row['gender']!r}")
        if row["emotion"] and row["emotion"] not in EMOTIONS:
            raise ManifestError(f"{p}: row {i + 2}, field emotion: unknown label {row['emotion']!r}")
        if row["age"] and not row["age"].isdigit():
            raise ManifestError(f"{p}: row {i + 2}, field age: not a whole number {row['age']!r}")
    return df


def write_manifest(df: pd.DataFrame, path: str | os.PathLike) -> None:
    cols = COLUMNS + [c for c in df.columns if c not in COLUMNS]
    with atomic_path(path) as tmp:
        df[cols].to_csv(tmp, index=False)
