"""Deterministic synthetic corpora made with eSpeak NG (the tiny profile's embedded data).

Each kind copies the shape of the real corpus it stands for (docs/DESIGN.md section 2):

| kind     | stands for   | content                                              | labels                  |
|----------|--------------|------------------------------------------------------|-------------------------|
| pretrain | (clean pool) | sentences over the union lexicon, all 6 emotions     | all four                |
| read     | LibriSpeech  | 3-7 word sentences from a 40-word grammar            | transcript, gender      |
| read2    | WSJ0         | other speakers, a 40-word business-news grammar      | transcript, gender      |
| acted    | CREMA-D      | the 12 CREMA-D sentences x 6 emotions (by prosody)   | all four                |
| acted2   | IEMOCAP      | 12 other sentences x 4 emotions                      | all four                |
| celeb    | VoxCeleb2-AE | interview-style sentences, neutral-ish prosody       | gender, age             |

Speakers are custom eSpeak voices derived from the stock variants (m1-m8 male, f1-f5
female) whose parameters are smooth functions of gender and age plus small per-speaker
offsets: the voice's pitch (Hz), formant scale (vocal-tract length), speaking rate,
pitch range, and with age more flutter (jitter), roughness and breathiness. Emotion is
prosody on top (rate, pitch, pitch range, amplitude, pauses between words).

Every random choice draws from numpy generators seeded by (seed, corpus name, speaker,
...): the same seed gives byte-identical manifests and WAVs; different corpus names give
disjoint speaker pools; splits are speaker-disjoint.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..audio import SAMPLE_RATE, write_wav
from ..lineage import atomic_path, write_text_atomic
from ..manifest import COLUMNS, EMOTIONS, write_manifest
from . import espeak

KINDS = ("pretrain", "read", "read2", "acted", "acted2", "celeb")
SPLITS = ("train", "dev", "test")
AGE_MIN, AGE_MAX = 20, 75
LANGUAGE = "en-us"
MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8")
FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5")


class CorpusError(ValueError):
    """A corpus configuration is invalid; the message names the key."""


# ----------------------------------------------------------------------------- sentences

# CREMA-D's 12 sentences (code, text as spoken). Transcripts drop the apostrophes.
CREMA_SENTENCES = [
    ("IEO", "It's eleven o'clock"),
    ("TIE", "That is exactly what happened"),
    ("IOM", "I'm on my way to the meeting"),
    ("IWW", "I wonder what this is about"),
    ("TAI", "The airplane is almost full"),
    ("MTI", "Maybe tomorrow it will be cold"),
    ("IWL", "I would like a new alarm clock"),
    ("ITH", "I think I have a doctor's appointment"),
    ("DFA", "Don't forget a jacket"),
    ("ITS", "I think I've seen this before"),
    ("TSI", "The surface is slick"),
    ("WSI", "We'll stop in a couple of minutes"),
]
# IEMOCAP-like: other scripted lines (a dialogue flavour), 4-6 words.
ACTED2_SENTENCES = [
    ("WAY", "What are you doing here"),
    ("ICB", "I cannot believe you did that"),
    ("WHL", "We have to leave right now"),
    ("TBN", "That is the best news ever"),
    ("WDY", "Where did you put my keys"),
    ("ITY", "I told you this would happen"),
    ("PJL", "Please just listen to me"),
    ("IWA", "It was a long day"),
    ("YNC", "You never call me back"),
    ("CWT", "Can we talk about it later"),
    ("TNF", "This is not fair"),
    ("IRM", "I really missed you today"),
]
ACTED_EMOTIONS = EMOTIONS                                # angry disgust fear happy neutral sad
ACTED2_EMOTIONS = ["angry", "happy", "neutral", "sad"]
EMOTION_CODES = {"angry": "ANG", "disgust": "DIS", "fear": "FEA", "happy": "HAP",
                 "neutral": "NEU", "sad": "SAD"}

# Word classes of the small grammars (each lexicon about 40 words).
READ_WORDS = {
    "DET": ["the", "a", "every", "one"],
    "ADJ": ["old", "young", "small", "big", "red", "green", "quiet", "brave"],
    "N": ["man", "woman", "dog", "cat", "horse", "ship", "house", "river", "garden", "letter",
          "king", "child"],
    "V": ["saw", "found", "took", "heard", "followed", "carried", "left", "loved"],
    "P": ["near", "under", "across", "behind"],
    "ADV": ["slowly", "again", "today", "quickly"],
}
READ_TEMPLATES = ["DET N V", "DET N V ADV", "DET N V DET N", "DET ADJ N V ADV",
                  "DET ADJ N V DET N", "DET N V DET ADJ N", "DET N V DET N ADV",
                  "DET N V P DET N", "DET ADJ N V DET ADJ N", "DET ADJ N V P DET N"]
READ2_WORDS = {
    "DET": ["the", "a", "its", "this"],
    "ADJ": ["new", "strong", "weak", "federal", "foreign", "major"],
    "N": ["company", "bank", "market", "government", "firm", "investors", "shares", "prices",
          "board", "profits", "sales", "stocks", "analysts", "economy"],
    "V": ["said", "reported", "expected", "announced", "bought", "sold", "raised", "cut"],
    "VI": ["rose", "fell"],
    "ADV": ["sharply", "yesterday", "recently", "later"],
    "P": ["after", "despite"],
}
READ2_TEMPLATES = ["N VI ADV", "DET N VI ADV", "DET ADJ N VI", "DET N V DET N",
                   "DET ADJ N V DET N", "DET N V DET ADJ N", "DET ADJ N V DET ADJ N",
                   "DET N VI ADV P DET N", "N V DET N ADV", "DET N VI P DET N"]
CELEB_WORDS = {
    "PRON": ["i", "we", "you", "they"],
    "ADVB": ["really", "always", "never", "actually", "just"],
    "V": ["love", "like", "enjoy", "remember", "started", "played", "watched", "wanted", "made"],
    "DETP": ["my", "our", "the", "that"],
    "N": ["music", "movie", "football", "song", "fans", "show", "game", "family", "friends",
          "album", "tour", "season", "stage"],
    "TIME": ["last year", "every day", "at night", "back then", "a lot"],
}
CELEB_TEMPLATES = ["PRON V DETP N", "PRON ADVB V DETP N", "PRON V DETP N TIME",
                   "PRON ADVB V DETP N TIME", "PRON ADVB V N", "PRON V N TIME"]


def normalize(text: str) -> str:
    """Transcript form: lower case, apostrophes dropped, other punctuation removed."""
    t = text.lower().replace("'", "").replace("\u2019", "")
    t = re.sub(r"[^a-z0-9 ]+", " ", t)
    return " ".join(t.split())


def _expand(template: str, words: dict, rng: np.random.Generator) -> str:
    out = []
    for slot in template.split():
        out.append(words[slot][int(rng.integers(len(words[slot])))])
    # "a" before a vowel reads badly: use "the" there.
    for i in range(len(out) - 1):
        if out[i] == "a" and out[i + 1][0] in "aeiou":
            out[i] = "the"
    return " ".join(out)


def _lexicon(words: dict) -> set[str]:
    return {w for ws in words.values() for phrase in ws for w in phrase.split()}


def kind_lexicon(kind: str) -> list[str]:
    """Every word a corpus of this kind can speak (sorted)."""
    if kind == "read":
        lex = _lexicon(READ_WORDS)
    elif kind == "read2":
        lex = _lexicon(READ2_WORDS)
    elif kind == "celeb":
        lex = _lexicon(CELEB_WORDS)
    elif kind == "acted":
        lex = {w for _, s in CREMA_SENTENCES for w in normalize(s).split()}
    elif kind == "acted2":
        lex = {w for _, s in ACTED2_SENTENCES for w in normalize(s).split()}
    elif kind == "pretrain":
        return union_lexicon()
    else:
        raise CorpusError(f"kind: unknown corpus kind {kind!r} (one of {', '.join(KINDS)})")
    return sorted(lex)


def union_lexicon() -> list[str]:
    """All words of all kinds (for the tokenizer), sorted."""
    lex: set[str] = set()
    for kind in ("read", "read2", "acted", "acted2", "celeb"):
        lex.update(kind_lexicon(kind))
    return sorted(lex)


def _sentence(kind: str, rng: np.random.Generator) -> tuple[str, str | None]:
    """(text as spoken, sentence code or None) for one utterance of a free-text kind."""
    if kind == "read":
        return _expand(READ_TEMPLATES[int(rng.integers(len(READ_TEMPLATES)))], READ_WORDS, rng), None
    if kind == "read2":
        return _expand(READ2_TEMPLATES[int(rng.integers(len(READ2_TEMPLATES)))], READ2_WORDS,
                       rng), None
    if kind == "celeb":
        return _expand(CELEB_TEMPLATES[int(rng.integers(len(CELEB_TEMPLATES)))], CELEB_WORDS,
                       rng), None
    if kind in ("acted", "acted2"):
        table = CREMA_SENTENCES if kind == "acted" else ACTED2_SENTENCES
        code, text = table[int(rng.integers(len(table)))]
        return text, code
    if kind == "pretrain":
        # Grammatical sentences of every kind, and random word strings over the union
        # lexicon (so an acoustic model cannot lean on the grammar).
        r = rng.random()
        if r < 0.3:
            lex = union_lexicon()
            n = int(rng.integers(3, 7))
            return " ".join(lex[int(i)] for i in rng.integers(len(lex), size=n)), None
        source = ("read", "read2", "celeb", "acted", "acted2")[int(rng.integers(5))]
        text, _ = _sentence(source, rng)
        return text, None
    raise CorpusError(f"kind: unknown corpus kind {kind!r} (one of {', '.join(KINDS)})")


# ----------------------------------------------------------------------------- speakers

@dataclass(frozen=True)
class Speaker:
    id: str
    gender: str
    age: int
    base_variant: str
    variant: str      # custom eSpeak voice name (see espeak.define_variant)
    f0: float         # mean pitch of the voice, Hz
    rate: float       # neutral speaking rate, words per minute
    pitch_range: float  # neutral eSpeak pitch-range parameter (0-100)


def _variant_lines(base: str, f0: float, formant_scale: float, flutter: int, roughness: int,
                   breath: int, gender: str) -> str:
    """A custom voice file: the stock variant with pitch, formants and voice quality set."""
    keep, formants = [], {}
    for ln in espeak.stock_variant_text(base).splitlines():
        parts = ln.split()
        if not parts or parts[0].startswith("//"):
            continue
        key = parts[0]
        if key == "formant" and len(parts) >= 5:
            formants[int(parts[1])] = [float(x) for x in parts[2:]]
        elif key not in ("pitch", "flutter", "roughness", "breath", "gender", "name",
                         "language"):
            keep.append(" ".join(parts))
    lines = [f"gender {gender}"] + keep
    lo, hi = 0.8 * f0, 1.22 * f0
    lines.append(f"pitch {round(lo)} {round(hi)}")
    for ix in range(9):
        vals = formants.get(ix, [100.0, 100.0, 100.0])
        freq = vals[0] * formant_scale if ix <= 5 else vals[0]
        rest = " ".join(str(int(round(v))) for v in vals[1:])
        lines.append(f"formant {ix} {int(round(freq))} {rest}")
    lines.append(f"flutter {flutter}")
    lines.append(f"roughness {roughness}")
    if breath > 0:
        lines.append("breath 0 " + " ".join([str(breath)] * 7) + " 0")
    else:
        lines.append("breath 0 0 0 0 0 0 0 0")
    return "\n".join(lines) + "\n"


def make_speaker(spk_id: str, gender: str, age: int, rng: np.random.Generator) -> Speaker:
    """A speaker whose voice is a smooth function of gender and age plus small offsets.

    With a = (age - 20) / 55: rate falls from ~190 to ~145 wpm, male pitch rises
    slightly (108 -> 124 Hz) and female pitch falls (212 -> 178 Hz), formants drop
    ~4%, pitch range narrows, and flutter, roughness and breathiness grow.
    """
    a = (age - AGE_MIN) / (AGE_MAX - AGE_MIN)
    variants = MALE_VARIANTS if gender == "male" else FEMALE_VARIANTS
    base = variants[int(rng.integers(len(variants)))]
    f0_age = 108 + 16 * a if gender == "male" else 212 - 34 * a
    f0 = f0_age * math.exp(rng.normal(0, 0.04))
    formant_scale = (1 - 0.04 * a) * math.exp(rng.normal(0, 0.025))
    flutter = int(round(np.clip(3 + 32 * a ** 1.3 + rng.uniform(-2, 2), 0, 60)))
    roughness = int(round(np.clip(5.5 * a ** 1.5 + rng.uniform(-0.5, 0.5), 0, 7)))
    breath = int(round(np.clip(9 * a ** 1.2 + rng.uniform(-1, 1), 0, 12)))
    rate = (190 - 45 * a) * math.exp(rng.normal(0, 0.03))
    pitch_range = float(np.clip(62 - 22 * a + rng.normal(0, 3), 25, 80))
    text = _variant_lines(base, f0, formant_scale, flutter, roughness, breath, gender)
    variant = espeak.define_variant(text, language=LANGUAGE)
    return Speaker(spk_id, gender, int(age), base, variant, round(f0, 2), round(rate, 2),
                   round(pitch_range, 2))


# Emotion prosody: rate multiplier, eSpeak pitch (50 = the voice's own), pitch range
# (relative to the speaker's), amplitude (0-200), pause between words (10 ms units).
EMOTION_PROSODY = {
    "neutral": dict(rate=1.00, pitch=50, range=1.00, amp=100, gap=0),
    "angry":   dict(rate=1.18, pitch=58, range=1.45, amp=175, gap=0),
    "happy":   dict(rate=1.00, pitch=78, range=1.90, amp=115, gap=0),
    "sad":     dict(rate=0.78, pitch=34, range=0.25, amp=62, gap=3),
    "fear":    dict(rate=1.30, pitch=82, range=0.45, amp=85, gap=0),
    "disgust": dict(rate=0.86, pitch=40, range=1.25, amp=105, gap=7),
}


def prosody(spk: Speaker, emotion: str, rng: np.random.Generator, jitter: float = 1.0) -> dict:
    """eSpeak parameters for one utterance of `spk` in `emotion` (with small jitter)."""
    e = EMOTION_PROSODY[emotion]
    return dict(
        rate=int(round(np.clip(spk.rate * e["rate"] * math.exp(rng.normal(0, 0.03 * jitter)),
                               80, 400))),
        pitch=int(round(np.clip(e["pitch"] + rng.normal(0, 2.5 * jitter), 0, 100))),
        pitch_range=int(round(np.clip(spk.pitch_range * e["range"] + rng.normal(0, 4 * jitter),
                                      0, 100))),
        amplitude=int(round(np.clip(e["amp"] * math.exp(rng.normal(0, 0.06 * jitter)), 10, 200))),
        word_gap=int(e["gap"]),
    )


def _celeb_prosody(spk: Speaker, rng: np.random.Generator) -> dict:
    """Neutral-ish, freely varying conversational prosody."""
    return dict(
        rate=int(round(np.clip(spk.rate * math.exp(rng.normal(0, 0.03)), 80, 400))),
        pitch=int(round(np.clip(50 + rng.normal(0, 3), 0, 100))),
        pitch_range=int(round(np.clip(spk.pitch_range * math.exp(rng.normal(0, 0.12)), 0, 100))),
        amplitude=int(round(np.clip(100 * math.exp(rng.normal(0, 0.12)), 10, 200))),
        word_gap=0,
    )


# ----------------------------------------------------------------------------- building

def _code(*parts) -> int:
    """A stable 32-bit integer for seeding (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:4],
                          "little")


def _rng(seed: int, *parts) -> np.random.Generator:
    return np.random.default_rng([int(seed), _code(*parts)])


def _validate(name: str, cfg: dict) -> tuple[str, dict[str, int], int]:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name or ""):
        raise CorpusError(f"corpora.{name}: corpus name must be letters, digits, '_', '-' or '.'")
    kind = cfg.get("kind")
    if kind not in KINDS:
        raise CorpusError(f"corpora.{name}.kind: unknown corpus kind {kind!r} "
                          f"(one of {', '.join(KINDS)})")
    src = cfg.get("source", "synthetic")
    if src != "synthetic":
        raise CorpusError(f"corpora.{name}.source: {src!r} is not 'synthetic'")
    spk = cfg.get("speakers")
    if not isinstance(spk, dict) or not spk:
        raise CorpusError(f"corpora.{name}.speakers: expected a mapping split -> count")
    for split, n in spk.items():
        if split not in SPLITS:
            raise CorpusError(f"corpora.{name}.speakers.{split}: unknown split "
                              f"(one of {', '.join(SPLITS)})")
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise CorpusError(f"corpora.{name}.speakers.{split}: expected a positive whole "
                              f"number, got {n!r}")
    if kind == "pretrain" and "test" in spk:
        raise CorpusError(f"corpora.{name}.speakers.test: a pretrain corpus has train/dev only")
    cps = cfg.get("clips_per_speaker")
    if not isinstance(cps, int) or isinstance(cps, bool) or cps < 1:
        raise CorpusError(f"corpora.{name}.clips_per_speaker: expected a positive whole number, "
                          f"got {cps!r}")
    return kind, {s: spk[s] for s in SPLITS if s in spk}, cps


def plan_speakers(name: str, splits: dict[str, int], seed: int) -> dict[str, list[Speaker]]:
    """Speaker pool per split: balanced genders, ages spread over 20-75 in every split."""
    out, idx = {}, 0
    for split, n in splits.items():
        rng = _rng(seed, name, "split", split)
        genders = ["female", "male"] * (n // 2) + ([["female", "male"][int(rng.integers(2))]]
                                                    if n % 2 else [])
        genders = [genders[int(i)] for i in rng.permutation(n)]
        # Stratified ages: one draw in each of n equal bins, in random order.
        bins = rng.permutation(n)
        ages = [int(round(AGE_MIN + (b + rng.random()) * (AGE_MAX - AGE_MIN) / n)) for b in bins]
        spks = []
        for g, age in zip(genders, ages):
            spk_id = f"{name}{idx:04d}"
            spks.append(make_speaker(spk_id, g, min(max(age, AGE_MIN), AGE_MAX),
                                     _rng(seed, name, "speaker", spk_id)))
            idx += 1
        out[split] = spks
    return out


def _utterances(kind: str, spk: Speaker, n: int, rng: np.random.Generator):
    """Yield (clip suffix, spoken text, emotion or None, prosody dict) for one speaker."""
    if kind in ("acted", "acted2"):
        table = CREMA_SENTENCES if kind == "acted" else ACTED2_SENTENCES
        emos = ACTED_EMOTIONS if kind == "acted" else ACTED2_EMOTIONS
        n = min(n, len(table) * len(emos))
        # Balanced over emotions: n // E each, the remainder to randomly chosen emotions.
        counts = {e: n // len(emos) for e in emos}
        for e in rng.permutation(len(emos))[: n % len(emos)]:
            counts[emos[int(e)]] += 1
        combos = []
        for e in emos:
            for s in sorted(rng.permutation(len(table))[: counts[e]]):
                combos.append((int(s), e))
        for s, e in combos:
            code, text = table[s]
            yield f"{code}_{EMOTION_CODES[e]}", text, e, prosody(spk, e, rng)
        return
    for k in range(n):
        text, _ = _sentence(kind, rng)
        if kind == "pretrain":
            e = EMOTIONS[int(rng.integers(len(EMOTIONS)))]
            yield f"{k:03d}", text, e, prosody(spk, e, rng)
        elif kind == "celeb":
            yield f"{k:03d}", text, None, _celeb_prosody(spk, rng)
        else:  # read, read2: neutral reading with little variation
            yield f"{k:03d}", text, None, prosody(spk, "neutral", rng, jitter=0.5)


LABELS = {  # which manifest labels each kind fills
    "pretrain": ("transcript", "gender", "age", "emotion"),
    "read": ("transcript", "gender"),
    "read2": ("transcript", "gender"),
    "acted": ("transcript", "gender", "age", "emotion"),
    "acted2": ("transcript", "gender", "age", "emotion"),
    "celeb": ("gender", "age"),
}


def build_corpus(name: str, cfg: dict, seed: int, root: Path = Path("data"),
                 manifest_dir: Path | None = None, audio_dir: Path | None = None,
                 progress: bool = True) -> dict[str, Path]:
    """Synthesize corpus `name` from its params section; return {split: manifest path}.

    Writes `<root>/audio/<name>/<split>/<id>.wav` (16 kHz mono PCM-16) and
    `<root>/manifests/<name>/<split>.csv` plus `lexicon.txt`. Both directories are built
    in temporary siblings and renamed into place (audio first), so a failed run leaves
    nothing half-written. Manifest paths are `root`-based as given (relative root ->
    relative paths).
    """
    from tqdm import tqdm

    kind, splits, cps = _validate(name, cfg)
    root = Path(root)
    manifest_dir = Path(manifest_dir) if manifest_dir is not None else root / "manifests" / name
    audio_dir = Path(audio_dir) if audio_dir is not None else root / "audio" / name
    speakers = plan_speakers(name, splits, seed)
    labels = LABELS[kind]
    n_clips = sum(len(v) for v in speakers.values()) * (
        min(cps, (len(CREMA_SENTENCES) * 6) if kind == "acted" else
            (len(ACTED2_SENTENCES) * 4) if kind == "acted2" else cps))

    with atomic_path(manifest_dir) as man_tmp, atomic_path(audio_dir) as aud_tmp:
        man_tmp.mkdir(parents=True)
        bar = tqdm(total=n_clips, desc=f"synthesize {name}", unit="clip", disable=not progress,
                   file=sys.stderr, dynamic_ncols=True)
        frames = {}
        for split, spks in speakers.items():
            (aud_tmp / split).mkdir(parents=True)
            rows = []
            for spk in spks:
                rng = _rng(seed, name, "content", spk.id)
                for suffix, text, emotion, pros in _utterances(kind, spk, cps, rng):
                    clip_id = f"{spk.id}_{suffix}"
                    words = normalize(text).split()
                    wave, align = espeak.synthesize(text, voice=LANGUAGE, variant=spk.variant,
                                                    **pros)
                    if len(align) != len(words):  # synthesize aligns every token
                        raise CorpusError(f"corpora.{name}: eSpeak reported {len(align)} words "
                                          f"for {len(words)} in {text!r}")
                    align = [[w, s, e] for w, (_, s, e) in zip(words, align)]
                    write_wav(aud_tmp / split / f"{clip_id}.wav", wave, SAMPLE_RATE, atomic=False)
                    rows.append({
                        "id": clip_id,
                        "path": str(audio_dir / split / f"{clip_id}.wav"),
                        "duration": f"{wave.size / SAMPLE_RATE:.4f}",
                        "speaker": spk.id,
                        "dataset": name,
                        "split": split,
                        "transcript": " ".join(words) if "transcript" in labels else "",
                        "gender": spk.gender if "gender" in labels else "",
                        "age": str(spk.age) if "age" in labels else "",
                        "emotion": (emotion or "neutral") if "emotion" in labels else "",
                        "alignment": json.dumps(align, separators=(",", ":")),
                    })
                    bar.update(1)
            frames[split] = pd.DataFrame(rows, columns=COLUMNS + ["alignment"])
        bar.close()
        out = {}
        for split, df in frames.items():
            write_manifest(df, man_tmp / f"{split}.csv")
            out[split] = manifest_dir / f"{split}.csv"
        write_text_atomic(man_tmp / "lexicon.txt", "\n".join(kind_lexicon(kind)) + "\n")
        spk_rows = [{"speaker": s.id, "split": split, "gender": s.gender, "age": s.age,
                     "base_variant": s.base_variant, "f0_hz": s.f0, "rate_wpm": s.rate,
                     "pitch_range": s.pitch_range}
                    for split, spks in speakers.items() for s in spks]
        pd.DataFrame(spk_rows).to_csv(man_tmp / "speakers.csv", index=False)
    return out
