"""IEMOCAP (the `IEMOCAP_full_release` folder): `Session<N>/sentences/wav/<dialog>/<utt>.wav`,
emotions from `Session<N>/dialog/EmoEvaluation/<dialog>.txt` (lines
`[start - end]<TAB><utt><TAB><code><TAB>[V, A, D]`), transcripts from
`Session<N>/dialog/transcriptions/<dialog>.txt` (`<utt> [start-end]: text`) where present.

Sessions per split: `sessions` (default 1-3 train, 4 dev, 5 test). A speaker is the session
and the letter after the utterance id's LAST underscore (`Ses01F_impro01_M000` is the male
actor of session 1; the letter after `Ses01` is the dialog lead's gender). Emotions: only
those shared with CREMA-D are kept: ang -> angry, hap -> happy, sad, neu -> neutral,
fea -> fear, dis -> disgust, and exc (excited) -> happy when `merge_excited` is true (the
default, the usual 4-class IEMOCAP setup); fru, sur, oth, xxx (no agreement) and exc
otherwise are left out and counted. Labels: transcript, gender, emotion (IEMOCAP has no
ages)."""
from __future__ import annotations

import re
from pathlib import Path

from .common import (Clip, Loaded, Section, SPLITS, fail, listdir, need_dir, read_lines,
                     transcript)

DEFAULTS = {"sessions": {"train": [1, 2, 3], "dev": [4], "test": [5]}, "merge_excited": True}
SHARED = {"ang": "angry", "hap": "happy", "sad": "sad", "neu": "neutral", "fea": "fear",
          "dis": "disgust"}
DROPPED = {"fru", "sur", "oth", "xxx", "exc"}
EVAL_LINE = re.compile(r"\[\s*[\d.]+\s*-\s*[\d.]+\s*\]\s+(\S+)\s+(\w+)\s+\[[^\]]*\]\s*")
UTT = re.compile(r"Ses(\d\d)[FM]_\w+_([FM])\w*")
TRANS_LINE = re.compile(r"(Ses\S+)\s+\[[^\]]*\]:\s*(.*)")


def sessions(sec: Section) -> dict[str, list[int]]:
    s = sec.require("sessions")
    if not isinstance(s, dict) or set(s) != set(SPLITS):
        raise sec.error("sessions", f"expected a mapping with keys {', '.join(SPLITS)}, got {s!r}")
    for split in SPLITS:
        if not isinstance(s[split], list) or not s[split] or not all(
                isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 5 for n in s[split]):
            raise sec.error(f"sessions.{split}", f"expected a list of session numbers 1-5, "
                                                 f"got {s[split]!r}")
    return {split: s[split] for split in SPLITS}


def read_transcriptions(session: Path) -> dict[str, str]:
    """utterance id -> transcript (other lines, e.g. events between turns, are skipped)."""
    out = {}
    for f in listdir(session / "dialog" / "transcriptions", "*.txt"):
        for _, line in read_lines(f):
            m = TRANS_LINE.fullmatch(line.strip())
            if m:
                out[m.group(1)] = transcript(m.group(2))
    return out


def read_evaluation(path: Path, session: Path, split: str, labels: dict[str, str],
                    texts: dict[str, str], loaded: Loaded) -> None:
    """The clips of one EmoEvaluation file (lines starting with '[')."""
    for n, line in read_lines(path):
        if not line.startswith("["):
            continue
        m = EVAL_LINE.fullmatch(line)
        if not m:
            raise fail(path, "expected '[start - end]<TAB>utterance<TAB>emotion<TAB>[V, A, D]'", n)
        utt, code = m.groups()
        u = UTT.fullmatch(utt)
        if not u:
            raise fail(path, f"utterance id {utt!r} is not like Ses01F_impro01_M000", n)
        if code not in SHARED and code not in DROPPED:
            raise fail(path, f"unknown emotion code {code!r}", n)
        if code not in labels:
            loaded.skipped[f"emotion_{code}"] += 1
            continue
        audio = session / "sentences" / "wav" / utt.rsplit("_", 1)[0] / f"{utt}.wav"
        if not audio.is_file():
            raise fail(path, f"audio file {audio} not found", n)
        g = "female" if u.group(2) == "F" else "male"
        loaded.clips.append(Clip(utt, audio, f"Ses{u.group(1)}_{u.group(2)}", split,
                                 transcript=texts.get(utt, ""), gender=g, emotion=labels[code]))


def load(root: Path, sec: Section, seed: int) -> Loaded:
    labels = dict(SHARED, **({"exc": "happy"} if sec.get("merge_excited") else {}))
    loaded = Loaded([], [])
    for split, numbers in sessions(sec).items():
        for number in numbers:
            session = need_dir(root / f"Session{number}", "IEMOCAP session directory")
            evals = listdir(need_dir(session / "dialog" / "EmoEvaluation",
                                     "EmoEvaluation directory"), "*.txt")
            if not evals:
                raise fail(session / "dialog" / "EmoEvaluation", "no <dialog>.txt files")
            texts = read_transcriptions(session)
            for path in evals:
                read_evaluation(path, session, split, labels, texts, loaded)
                loaded.metadata.append(path)
    return loaded
