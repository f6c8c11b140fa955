"""CREMA-D: `AudioWAV/<ActorID>_<Sentence>_<Emotion>_<Level>.wav` and `VideoDemographics.csv`
(ActorID, Age, Sex, Race, Ethnicity). Labels: transcript (from the sentence code), gender,
age, emotion (ANG DIS FEA HAP NEU SAD). Splits: speaker-disjoint, seeded, by the `split`
shares (default 80/10/10), genders interleaved so each split gets both."""
from __future__ import annotations

import re
from pathlib import Path

from ..synthetic import CREMA_SENTENCES
from .common import (Clip, Loaded, Section, age, fail, fractions, gender, listdir, need_dir,
                     read_csv, speaker_split, transcript)

DEFAULTS = {"split": {"train": 0.8, "dev": 0.1, "test": 0.1}}
EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral",
            "SAD": "sad"}
LEVELS = {"LO", "MD", "HI", "XX"}
SENTENCES = dict(CREMA_SENTENCES)
NAME = re.compile(r"(\d+)_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})")


def read_demographics(path: Path) -> dict[str, tuple[str, str]]:
    """VideoDemographics.csv: actor id -> (gender, age)."""
    return {row["ActorID"]: (gender(row["Sex"], path, n, "Sex"), age(row["Age"], path, n, "Age"))
            for n, row in read_csv(path, ["ActorID", "Age", "Sex"])}


def parse_name(wav: Path) -> tuple[str, str, str]:
    """(actor, sentence code, emotion label) from a CREMA-D file name."""
    m = NAME.fullmatch(wav.stem)
    if not m:
        raise fail(wav, "file name is not <ActorID>_<Sentence>_<Emotion>_<Level>.wav")
    actor, sentence, emo, level = m.groups()
    for value, table, what in ((sentence, SENTENCES, "sentence"), (emo, EMOTIONS, "emotion"),
                               (level, LEVELS, "level")):
        if value not in table:
            raise fail(wav, f"unknown {what} code {value!r} (one of {', '.join(sorted(table))})")
    return actor, sentence, EMOTIONS[emo]


def load(root: Path, sec: Section, seed: int) -> Loaded:
    demo_path = root / "VideoDemographics.csv"
    demo = read_demographics(demo_path)
    wavs = listdir(need_dir(root / "AudioWAV", "CREMA-D AudioWAV directory"), "*.wav")
    if not wavs:
        raise fail(root / "AudioWAV", "no .wav files")
    parsed = [(wav, *parse_name(wav)) for wav in wavs]
    for wav, actor, _, _ in parsed:
        if actor not in demo:
            raise fail(demo_path, f"no row for actor {actor} (of {wav.name})")
    actors = {actor: demo[actor][0] for _, actor, _, _ in parsed}
    split_of = speaker_split(actors, fractions(sec), seed, "cremad", root)
    clips = [Clip(wav.stem, wav, actor, split_of[actor], transcript=transcript(SENTENCES[code]),
                  gender=demo[actor][0], age=demo[actor][1], emotion=emotion)
             for wav, actor, code, emotion in parsed]
    return Loaded(clips, [demo_path])
