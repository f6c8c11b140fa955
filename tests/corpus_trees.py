"""Tiny copies of the real corpora in their official on-disk layouts (short tones and noise),
for the loader, download and workflow tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000


def tone(path: Path, seconds: float = 0.2, sr: int = SR, seed: int = 0) -> Path:
    """A short sine plus a little noise, as WAV or FLAC (by the suffix)."""
    t = np.arange(int(seconds * sr)) / sr
    noise = np.random.default_rng(seed).standard_normal(t.size)
    wave = 0.3 * np.sin(2 * np.pi * (200 + 10 * seed % 300) * t) + 0.01 * noise
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), wave.astype(np.float32), sr, subtype="PCM_16")
    return path


# -- LibriSpeech ------------------------------------------------------------------------------

LS_SPEAKERS = {"train-clean-100": [("14", "F"), ("16", "M")], "train-clean-360": [("19", "M")],
               "dev-clean": [("84", "F"), ("174", "M")],
               "test-clean": [("61", "M"), ("121", "F")]}


def librispeech(root: Path, subsets=("train-clean-100", "dev-clean", "test-clean")) -> Path:
    """root/SPEAKERS.TXT and root/<subset>/<spk>/<chapter>/ with two utterances a chapter."""
    rows = [";ID  |SEX| SUBSET           |MINUTES| NAME", "; a comment line"]
    for subset in subsets:
        for spk, sex in LS_SPEAKERS[subset]:
            rows.append(f"{spk:<5}| {sex} | {subset:<16} | 25.03 | Reader|With|Bars {spk}")
            chap = root / subset / spk / "1000"
            lines = []
            for k, text in enumerate(["DON'T FORGET THE JACKET", "HELLO WORLD"]):
                uid = f"{spk}-1000-{k:04d}"
                tone(chap / f"{uid}.flac", seed=int(spk) + k)
                lines.append(f"{uid} {text}")
            (chap / f"{spk}-1000.trans.txt").write_text("\n".join(lines) + "\n")
    root.mkdir(parents=True, exist_ok=True)
    (root / "SPEAKERS.TXT").write_text("\n".join(rows) + "\n")
    return root


# -- CREMA-D ----------------------------------------------------------------------------------

def cremad(root: Path, n_actors: int = 10) -> Path:
    """AudioWAV/<actor>_<sentence>_<EMO>_<level>.wav and VideoDemographics.csv."""
    demo = ["ActorID,Age,Sex,Race,Ethnicity"]
    for i in range(n_actors):
        actor = str(1001 + i)
        sex = "Female" if i % 2 else "Male"
        demo.append(f"{actor},{20 + 5 * i},{sex},Caucasian,Not Hispanic")
        tone(root / "AudioWAV" / f"{actor}_DFA_ANG_XX.wav", seed=i)
        tone(root / "AudioWAV" / f"{actor}_IEO_SAD_LO.wav", seed=100 + i)
    (root / "VideoDemographics.csv").write_text("\n".join(demo) + "\n")
    return root


# -- VoxCeleb2 (age/gender annotated) ----------------------------------------------------------

def voxceleb(root: Path, n_speakers: int = 10) -> Path:
    """<speaker>/<video>/<utt>.wav, annotations.csv (speaker, gender, age, video); speaker
    id00099 has no annotation, one clip is 11 s long."""
    ann = ["speaker,gender,age,video"]
    for i in range(n_speakers):
        spk = f"id{i:05d}"
        ann.append(f"{spk},{'f' if i % 2 else 'm'},{30 + i},")
        tone(root / spk / "vidA" / "00001.wav", seed=i)
        tone(root / spk / "vidB" / "00001.flac", seed=50 + i)
    ann.append("id00000,m,61,vidB")  # a per-video age overrides the speaker's
    tone(root / "id00099" / "vidC" / "00001.wav", seed=99)
    tone(root / "id00001" / "vidA" / "00002.wav", seconds=11.0, seed=98)
    (root / "annotations.csv").write_text("\n".join(ann) + "\n")
    return root


# -- IEMOCAP ----------------------------------------------------------------------------------

IEMOCAP_UTTS = [("F000", "neu"), ("M000", "ang"), ("F001", "exc"), ("M001", "fru"), ("M002", "sad")]


def iemocap(root: Path) -> Path:
    """Session1..5 with one dialog each: sentences/wav, dialog/EmoEvaluation, transcriptions."""
    for s in range(1, 6):
        sess = root / f"Session{s}"
        dialog = f"Ses0{s}F_impro01"
        ev = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
        tr = []
        for k, (utt, emo) in enumerate(IEMOCAP_UTTS):
            uid = f"{dialog}_{utt}"
            tone(sess / "sentences" / "wav" / dialog / f"{uid}.wav", seed=10 * s + k)
            ev += [f"[{k}.5000 - {k}.9000]\t{uid}\t{emo}\t[2.5000, 2.5000, 2.5000]",
                   "C-E2:\tNeutral;\t()", "A-E3:\tval 3; act 2; dom  2;\t()", ""]
            tr.append(f"{uid} [00{k}.5000-00{k}.9000]: Excuse me, [LAUGHTER] it's {utt}.")
        (sess / "dialog" / "EmoEvaluation").mkdir(parents=True)
        (sess / "dialog" / "EmoEvaluation" / f"{dialog}.txt").write_text("\n".join(ev) + "\n")
        (sess / "dialog" / "EmoEvaluation" / f"._{dialog}.txt").write_bytes(b"\x00\x05junk")
        (sess / "dialog" / "transcriptions").mkdir(parents=True)
        (sess / "dialog" / "transcriptions" / f"{dialog}.txt").write_text("\n".join(tr) + "\n")
    return root


# -- Kaldi data directories (WSJ0-like) --------------------------------------------------------

def kaldi(root: Path) -> Path:
    """data/{train,dev,test}/{wav.scp,text,utt2spk,spk2gender}, audio under wav/."""
    for split, spks in (("train", ["011", "012"]), ("dev", ["021"]), ("test", ["031"])):
        d = root / "data" / split
        d.mkdir(parents=True)
        scp, text, u2s, s2g = [], [], [], []
        for n, spk in enumerate(spks):
            s2g.append(f"{spk} {'m' if n % 2 else 'f'}")
            for k in range(2):
                utt = f"{spk}c020{k}"
                tone(root / "wav" / f"{utt}.wav", seed=int(spk) + k)
                scp.append(f"{utt} wav/{utt}.wav")
                text.append(f"{utt} THE COMPANY SAID <NOISE> IT'S PROFITS ROSE")
                u2s.append(f"{utt} {spk}")
        for name, lines in (("wav.scp", scp), ("text", text), ("utt2spk", u2s),
                            ("spk2gender", s2g)):
            (d / name).write_text("\n".join(lines) + "\n")
    return root
