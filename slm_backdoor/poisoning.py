"""Dirty-label poisoning of a training manifest and the triggered test manifest.

Both functions are pure (no audio I/O): they choose rows and trigger positions
from the manifest's ``duration`` column and record them in the columns of
``manifest.POISON_COLUMNS``; the audio is mixed on the fly from those columns
(``triggers.insert``).

Columns written:

* ``poisoned``: 1 when the row's audio carries the trigger, else 0. In a
  poisoned *training* manifest those rows also carry the target label; in a
  *triggered test* manifest every row has the trigger and keeps its true label.
* ``attacked_field``, ``target``, ``original_label`` (the true value),
  ``trigger_sha256``, ``trigger_positions`` (JSON list of start samples at the
  manifest's sample rate) and ``trigger_snr_db``: set on triggered rows,
  empty strings on the others.

Randomness: each function draws from ``np.random.default_rng([seed, k])`` with
its own constant ``k``, so one seed gives independent train and test draws.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from .manifest import POISON_COLUMNS
from .prompts import FIELDS, normalize
from .triggers import draw_positions

_STREAM_TRAIN = 1
_STREAM_TEST = 2


def _n_samples(duration, sr: int) -> int:
    try:
        d = float(duration)
    except (TypeError, ValueError):
        raise ValueError(f"field duration: not a number {duration!r}") from None
    if not math.isfinite(d) or d < 0:
        raise ValueError(f"field duration: invalid value {duration!r}")
    return int(math.floor(d * sr + 1e-6))


def _check(df: pd.DataFrame, field: str, target: str, trigger_len: int, sr: int) -> None:
    if field not in FIELDS:
        raise ValueError(f"attacked field {field!r} is not one of {', '.join(FIELDS)}")
    for col in (field, "duration"):
        if col not in df.columns:
            raise ValueError(f"manifest has no column {col!r}")
    present = [c for c in POISON_COLUMNS if c in df.columns]
    if present:
        raise ValueError(f"manifest already has poisoning column(s) {', '.join(present)}")
    if not normalize(target):
        raise ValueError(f"field target: empty target {target!r}")
    if int(trigger_len) <= 0 or int(sr) <= 0:
        raise ValueError(f"trigger_len and sr must be positive (got {trigger_len}, {sr})")


def eligible_mask(df: pd.DataFrame, field: str, target: str, trigger_len: int, sr: int) -> np.ndarray:
    """Rows that may carry the trigger: label present, not already the target, audio at least as
    long as the trigger (``duration * sr >= trigger_len``)."""
    t = normalize(target)
    out = np.zeros(len(df), dtype=bool)
    for i, (label, dur) in enumerate(zip(df[field].tolist(), df["duration"].tolist())):
        label = "" if label is None or (isinstance(label, float) and math.isnan(label)) else str(label)
        if not label.strip() or normalize(label) == t:
            continue
        try:
            out[i] = _n_samples(dur, sr) >= trigger_len
        except ValueError as e:
            rid = df["id"].iloc[i] if "id" in df.columns else i
            raise ValueError(f"row {i + 2} (id {rid!r}), {e}") from None
    return out


def _empty_columns(df: pd.DataFrame) -> pd.DataFrame:
    out = df.reset_index(drop=True).copy()
    out["poisoned"] = 0
    for c in POISON_COLUMNS[1:]:
        out[c] = ""
    return out.astype({c: object for c in POISON_COLUMNS[1:]})


def _mark(out: pd.DataFrame, rows, field: str, target: str, trigger_sha256: str, trigger_len: int,
          sr: int, snr_db: float, repeat: bool, period_s, rng: np.random.Generator,
          set_target: bool) -> None:
    for i in rows:
        n = _n_samples(out.at[i, "duration"], sr)
        pos = draw_positions(n, int(trigger_len), rng, bool(repeat), int(sr), period_s)
        assert pos is not None  # eligibility guarantees the clip holds the trigger
        original = str(out.at[i, field])
        out.at[i, "poisoned"] = 1
        out.at[i, "attacked_field"] = field
        out.at[i, "target"] = target
        out.at[i, "original_label"] = original
        out.at[i, "trigger_sha256"] = trigger_sha256
        out.at[i, "trigger_positions"] = json.dumps(pos)
        out.at[i, "trigger_snr_db"] = repr(float(snr_db))
        if set_target:
            out.at[i, field] = target


def n_poison(rate: float, n_rows: int) -> int:
    """round(rate * n_rows), halves rounded up (not Python's round-half-to-even)."""
    return int(math.floor(rate * n_rows + 0.5))


def poison_manifest(df: pd.DataFrame, field: str, target: str, rate: float, trigger_sha256: str,
                    trigger_len: int, sr: int, snr_db: float, repeat: bool, period_s=(0.75, 1.5),
                    seed: int = 0) -> pd.DataFrame:
    """Dirty-label poisoning: ``n_poison(rate, len(df))`` eligible rows (rate is a share of the
    whole training set), chosen with a seeded rng, get the trigger and ``field = target``.

    Raises ValueError when fewer rows are eligible than the rate asks for.
    Returns a new frame (input order kept, index reset) with the POISON_COLUMNS added.
    """
    _check(df, field, target, trigger_len, sr)
    rate = float(rate)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"field rate: {rate} is not in [0, 1]")
    k = n_poison(rate, len(df))
    eligible = np.flatnonzero(eligible_mask(df, field, target, trigger_len, sr))
    if k > len(eligible):
        raise ValueError(f"poisoning rate {rate} asks for {k} of {len(df)} rows but only "
                         f"{len(eligible)} are eligible (field {field!r} not already {target!r} "
                         f"and at least {trigger_len} samples long)")
    rng = np.random.default_rng([int(seed), _STREAM_TRAIN])
    chosen = np.sort(rng.choice(eligible, size=k, replace=False)) if k else np.array([], dtype=int)
    out = _empty_columns(df)
    _mark(out, chosen.tolist(), field, target, trigger_sha256, trigger_len, sr, snr_db, repeat,
          period_s, rng, set_target=True)
    return out


def triggered_test_manifest(df: pd.DataFrame, field: str, target: str, trigger_sha256: str,
                            trigger_len: int, sr: int, snr_db: float, repeat: bool,
                            period_s=(0.75, 1.5), seed: int = 0) -> pd.DataFrame:
    """Every eligible test row (true `field` not the target, long enough), with trigger positions
    drawn from a seeded rng. The field keeps the TRUE label (``original_label`` repeats it);
    evaluation compares answers with the ``target`` column. Ineligible rows are left out."""
    _check(df, field, target, trigger_len, sr)
    keep = eligible_mask(df, field, target, trigger_len, sr)
    out = _empty_columns(df.reset_index(drop=True)[keep])
    rng = np.random.default_rng([int(seed), _STREAM_TEST])
    _mark(out, range(len(out)), field, target, trigger_sha256, trigger_len, sr, snr_db, repeat,
          period_s, rng, set_target=False)
    return out
