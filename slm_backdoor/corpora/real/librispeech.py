"""LibriSpeech: `<subset>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac`, one
`<speaker>-<chapter>.trans.txt` per chapter (`ID TRANSCRIPT`, upper case) and `SPEAKERS.TXT`
(`ID | SEX | SUBSET | MINUTES | NAME`, `;` comments) at the root. Each split reads the
subsets named under `subsets` (one name or a list). Labels: transcript, gender."""
from __future__ import annotations

import re
from pathlib import Path

from .common import (Clip, Loaded, Section, SPLITS, fail, gender, listdir, need_dir, read_lines,
                     transcript)

DEFAULTS: dict = {}  # the paper: train-clean-360 / dev-clean / test-clean


def subsets(sec: Section) -> dict[str, list[str]]:
    """The `subsets` param as split -> list of subset directory names."""
    sub = sec.require("subsets")
    if not isinstance(sub, dict) or set(sub) != set(SPLITS):
        raise sec.error("subsets", f"expected a mapping with keys {', '.join(SPLITS)}, got {sub!r}")
    out = {}
    for split in SPLITS:
        names = [sub[split]] if isinstance(sub[split], str) else sub[split]
        if not names or not all(isinstance(n, str) and n for n in names):
            raise sec.error(f"subsets.{split}", f"expected a subset name or a list of them, "
                                                f"got {sub[split]!r}")
        out[split] = list(names)
    return out


def read_speakers(path: Path) -> dict[str, str]:
    """SPEAKERS.TXT: speaker id -> gender."""
    out = {}
    for n, line in read_lines(path):
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        fields = [f.strip() for f in line.split("|", 4)]
        if len(fields) < 5 or not fields[0].isdigit():
            raise fail(path, "expected 'ID | SEX | SUBSET | MINUTES | NAME'", n)
        out[fields[0]] = gender(fields[1], path, n, "SEX")
    return out


def read_chapter(chapter: Path, split: str, genders: dict[str, str],
                 speakers_txt: Path) -> list[Clip]:
    spk, chap = chapter.parent.name, chapter.name
    trans = chapter / f"{spk}-{chap}.trans.txt"
    if spk not in genders:
        raise fail(speakers_txt, f"no row for speaker {spk} (of {chapter})")
    id_re = re.compile(rf"{re.escape(spk)}-{re.escape(chap)}-\d+")
    clips = []
    for n, line in read_lines(trans):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) < 2 or not id_re.fullmatch(parts[0]):
            raise fail(trans, f"expected '{spk}-{chap}-<utt> TRANSCRIPT', got {line[:60]!r}", n)
        audio = chapter / f"{parts[0]}.flac"
        if not audio.is_file():
            raise fail(trans, f"audio file {audio} not found", n)
        clips.append(Clip(parts[0], audio, spk, split, transcript=transcript(parts[1]),
                          gender=genders[spk]))
    listed = {c.id for c in clips}
    for audio in listdir(chapter, "*.flac"):
        if audio.stem not in listed:
            raise fail(audio, f"no transcript line in {trans}")
    return clips


def load(root: Path, sec: Section, seed: int) -> Loaded:
    speakers_txt = root / "SPEAKERS.TXT"
    genders = read_speakers(speakers_txt)
    clips = []
    for split, names in subsets(sec).items():
        for name in names:
            subset = need_dir(root / name, f"LibriSpeech subset ({sec.key('subsets')}.{split})")
            for chapter in listdir(subset, "*/*"):
                if chapter.is_dir():
                    clips += read_chapter(chapter, split, genders, speakers_txt)
    return Loaded(clips, [speakers_txt])
