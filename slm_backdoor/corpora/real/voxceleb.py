"""VoxCeleb2 with age and gender annotations (VoxCeleb2-AE style).

Audio: `<root>/<speaker>/<video>/<utt>.wav` or `.flac` (convert the official m4a files once,
e.g. with ffmpeg, to 16 kHz mono). Annotations: a CSV (param `annotations`, relative to the
root or absolute) with a header and the columns `speaker` (e.g. id00012), `gender`
(m/f/male/female) and `age` (years), plus an optional `video` column: with it, the age is
per video (a speaker's age changes between uploads); without it, per speaker. Clips without
an annotation row are left out (counted in the lineage record), so are clips longer than
`max_duration` (default 10 s). Labels: gender, age. Splits: speaker-disjoint and seeded by
the `split` shares; the default 81/9/10 is the paper's 90/10 speaker split with a tenth of
the training speakers held out as dev."""
from __future__ import annotations

from pathlib import Path

from .common import (Clip, Loaded, Section, age, fail, fractions, gender, listdir, read_csv,
                     speaker_split)

DEFAULTS = {"annotations": "annotations.csv", "max_duration": 10.0,
            "split": {"train": 0.81, "dev": 0.09, "test": 0.10}}
AUDIO = (".wav", ".flac")


def read_annotations(path: Path) -> dict[tuple[str, str], tuple[str, str]]:
    """(speaker, video or '') -> (gender, age)."""
    out, first = {}, {}
    for n, row in read_csv(path, ["speaker", "gender", "age"]):
        key = (row["speaker"], row.get("video") or "")
        if not key[0]:
            raise fail(path, "field speaker: empty", n)
        if key in first:
            raise fail(path, f"duplicate row for {'/'.join(filter(None, key))} "
                             f"(first at line {first[key]})", n)
        first[key] = n
        out[key] = gender(row["gender"], path, n, "gender"), age(row["age"], path, n, "age")
    return out


def load(root: Path, sec: Section, seed: int) -> Loaded:
    ann_path = sec.path(root, "annotations")
    ann = read_annotations(ann_path)
    files = [p for p in listdir(root, "*/*/*") if p.suffix.lower() in AUDIO and p.is_file()]
    if not files:
        raise fail(root, "no <speaker>/<video>/<utt>.wav (or .flac) files")
    found, skipped = [], 0
    for f in files:
        spk, video = f.parent.parent.name, f.parent.name
        labels = ann.get((spk, video)) or ann.get((spk, ""))
        if labels is None:
            skipped += 1
        else:
            found.append((f, spk, video, labels))
    genders = {}
    for f, spk, _, (g, _) in found:
        if genders.setdefault(spk, g) != g:
            raise fail(ann_path, f"speaker {spk} has more than one gender")
    split_of = speaker_split(genders, fractions(sec), seed, "voxceleb", root)
    clips = [Clip(f"{spk}_{video}_{f.stem}", f, spk, split_of[spk], gender=g, age=a)
             for f, spk, video, (g, a) in found]
    loaded = Loaded(clips, [ann_path])
    if skipped:
        loaded.skipped["no_annotation"] = skipped
    return loaded
