"""Plumbing shared by the real-corpus loaders: one-line errors naming the file and line (or
the params key), line and CSV readers, label parsing and seeded speaker-disjoint splits."""
from __future__ import annotations

import csv
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from ..synthetic import normalize

SPLITS = ("train", "dev", "test")


class LoaderError(ValueError):
    """A corpus tree is missing or malformed, or its params are wrong: one line naming the
    file and line, or the params key."""


def fail(path: str | Path, msg: str, line: int | None = None) -> LoaderError:
    """The error for a file (and line): `path:line: msg`."""
    return LoaderError(f"{path}:{line}: {msg}" if line else f"{path}: {msg}")


@dataclass
class Clip:
    """One utterance as a loader finds it (labels empty where the corpus has none)."""
    id: str
    path: Path
    speaker: str
    split: str
    transcript: str = ""
    gender: str = ""
    age: str = ""
    emotion: str = ""


@dataclass
class Loaded:
    """What a loader returns: the clips, the label files they came from (hashed into the
    lineage record) and the number of clips left out, by reason."""
    clips: list[Clip]
    metadata: list[Path]
    skipped: Counter = field(default_factory=Counter)


@dataclass
class Section:
    """The `corpora.NAME` params section (loader defaults filled in), for errors naming keys."""
    name: str
    cfg: dict

    def key(self, key: str) -> str:
        return f"corpora.{self.name}.{key}"

    def error(self, key: str, msg: str) -> LoaderError:
        return LoaderError(f"{self.key(key)}: {msg}")

    def get(self, key: str, default=None):
        return self.cfg.get(key, default)

    def require(self, key: str):
        value = self.cfg.get(key)
        if value is None or value == "" or value == {}:
            raise self.error(key, "missing (needed by the "
                                  f"{self.cfg.get('source')!r} loader)")
        return value

    def path(self, root: Path, key: str) -> Path:
        """A path param: absolute as given, relative ones under the corpus root."""
        value = self.require(key)
        if not isinstance(value, str):
            raise self.error(key, f"expected a path, got {value!r}")
        return root / value


def hidden(p: Path) -> bool:
    """Dot files (e.g. macOS `._` resource forks shipped with some corpus copies)."""
    return p.name.startswith(".")


def listdir(pattern_root: Path, pattern: str) -> list[Path]:
    """Sorted matches of a glob, dot files left out."""
    return sorted(p for p in pattern_root.glob(pattern) if not hidden(p))


def need_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise fail(path, f"{what} not found")
    return path


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line) of a text file; a missing file is an error naming it."""
    if not path.is_file():
        raise fail(path, "file not found")
    with open(path, encoding="utf-8", errors="replace") as f:
        for i, line in enumerate(f, 1):
            yield i, line.rstrip("\r\n")


def read_csv(path: Path, columns: list[str]) -> Iterator[tuple[int, dict]]:
    """(line number, row) of a CSV file with a header naming at least `columns`."""
    if not path.is_file():
        raise fail(path, "file not found")
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise fail(path, f"missing column(s) {', '.join(missing)} in the header", 1)
        for row in reader:
            if None in row or any(row[c] is None for c in columns):
                raise fail(path, f"expected {len(reader.fieldnames)} fields", reader.line_num)
            yield reader.line_num, {k: v.strip() for k, v in row.items()}


GENDERS = {"m": "male", "male": "male", "f": "female", "female": "female"}


def gender(value: str, path: Path, line: int, field_name: str) -> str:
    g = GENDERS.get(value.strip().lower())
    if g is None:
        raise fail(path, f"field {field_name}: unknown gender {value!r} (M/F, male/female)", line)
    return g


def age(value: str, path: Path, line: int, field_name: str) -> str:
    """An age in whole years (a fractional age is rounded)."""
    try:
        years = float(value)
    except ValueError:
        years = -1.0
    if not 0 <= years < 150:
        raise fail(path, f"field {field_name}: not an age in years {value!r}", line)
    return str(int(round(years)))


def transcript(text: str) -> str:
    """Manifest form of a corpus transcript: noise/event tokens in [] or <> dropped, then
    the synthetic corpora's normalisation (lower case, apostrophes dropped, no punctuation)."""
    return normalize(re.sub(r"\[[^\]]*\]|<[^>]*>", " ", text))


def _rng(seed: int, *salt) -> np.random.Generator:
    code = int.from_bytes(hashlib.sha256("\x1f".join(map(str, salt)).encode()).digest()[:4],
                          "little")
    return np.random.default_rng([int(seed), code])


def fractions(sec: Section, key: str = "split") -> dict[str, float]:
    """The `split` param: shares of speakers per split (train/dev/test, summing to 1)."""
    f = sec.require(key)
    if not isinstance(f, dict) or set(f) != set(SPLITS):
        raise sec.error(key, f"expected a mapping with keys {', '.join(SPLITS)}, got {f!r}")
    for s in SPLITS:
        if isinstance(f[s], bool) or not isinstance(f[s], (int, float)) or not 0 <= f[s] <= 1:
            raise sec.error(f"{key}.{s}", f"expected a share between 0 and 1, got {f[s]!r}")
    if abs(sum(f.values()) - 1) > 1e-6:
        raise sec.error(key, f"shares must sum to 1, got {sum(f.values()):g}")
    return {s: float(f[s]) for s in SPLITS}


def speaker_split(genders: dict[str, str], shares: dict[str, float], seed: int,
                  salt: str, where: Path) -> dict[str, str]:
    """Speaker -> split, speaker-disjoint and seeded.

    Each gender's speakers are shuffled, then the genders are interleaved (F, M, F, M, ...)
    so every split gets both; test takes the first round(share * n) speakers (at least one
    when its share is positive), dev the next, train the rest.
    """
    rng = _rng(seed, "speaker_split", salt)
    groups = [sorted(s for s, g in genders.items() if g == key)
              for key in sorted(set(genders.values()))]
    groups = [[grp[i] for i in rng.permutation(len(grp))] for grp in groups]
    order = [grp[i] for i in range(max(map(len, groups), default=0))
             for grp in groups if i < len(grp)]
    n = len(order)
    counts = {s: max(1, round(shares[s] * n)) if shares[s] > 0 else 0 for s in ("test", "dev")}
    if counts["test"] + counts["dev"] >= n:
        raise fail(where, f"{n} speaker(s) are too few for a train/dev/test split")
    cut_dev = counts["test"] + counts["dev"]
    return {spk: "test" if i < counts["test"] else "dev" if i < cut_dev else "train"
            for i, spk in enumerate(order)}
