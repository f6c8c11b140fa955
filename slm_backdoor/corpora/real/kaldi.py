"""A Kaldi-style data directory per split (e.g. WSJ0 prepared by a Kaldi recipe): `wav.scp`
(`<utt> <path>`, plain audio paths readable by soundfile, relative ones under the corpus
root; pipe commands such as `sph2pipe ... |` are not run: convert the audio first), `text`
(`<utt> <transcript>`), `utt2spk` (`<utt> <speaker>`) and, optionally, `spk2gender`
(`<speaker> m|f`). `segments` files are not supported. Directories per split: `subsets`
(relative to the root or absolute). Labels: transcript, gender (if spk2gender is there)."""
from __future__ import annotations

from pathlib import Path

from .common import Clip, Loaded, Section, SPLITS, fail, gender, need_dir, read_lines, transcript

DEFAULTS: dict = {}


def read_table(path: Path, allow_empty: bool = False) -> dict[str, tuple[int, str]]:
    """`<key> <value>` lines: key -> (line number, value)."""
    out = {}
    for n, line in read_lines(path):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        value = parts[1].strip() if len(parts) > 1 else ""
        if not value and not allow_empty:
            raise fail(path, f"expected '<key> <value>', got {line[:60]!r}", n)
        if parts[0] in out:
            raise fail(path, f"duplicate key {parts[0]!r} (first at line {out[parts[0]][0]})", n)
        out[parts[0]] = (n, value)
    return out


def lookup(table: dict, key: str, path: Path, why: str) -> str:
    if key not in table:
        raise fail(path, f"no line for {key!r} ({why})")
    return table[key][1]


def load_dir(d: Path, root: Path, split: str) -> list[Clip]:
    if (d / "segments").exists():
        raise fail(d / "segments", "segments are not supported (one utterance per audio file)")
    wav_scp, text_p, u2s_p, s2g_p = (d / f for f in ("wav.scp", "text", "utt2spk", "spk2gender"))
    wavs, texts, utt2spk = read_table(wav_scp), read_table(text_p, True), read_table(u2s_p)
    spk2gender = read_table(s2g_p) if s2g_p.exists() else None
    clips = []
    for utt, (n, value) in wavs.items():
        if value.endswith("|"):
            raise fail(wav_scp, "pipe commands are not supported: convert the audio and list "
                                "plain paths", n)
        audio = root / value
        if not audio.is_file():
            raise fail(wav_scp, f"audio file {audio} not found", n)
        why = f"utterance of {wav_scp} line {n}"
        spk = lookup(utt2spk, utt, u2s_p, why)
        g = "" if spk2gender is None else gender(
            lookup(spk2gender, spk, s2g_p, f"speaker of {u2s_p} line {utt2spk[utt][0]}"),
            s2g_p, spk2gender[spk][0], "gender")
        text = transcript(lookup(texts, utt, text_p, why))
        clips.append(Clip(utt, audio, spk, split, transcript=text, gender=g))
    return clips


def load(root: Path, sec: Section, seed: int) -> Loaded:
    dirs = sec.require("subsets")
    if not isinstance(dirs, dict) or set(dirs) != set(SPLITS):
        raise sec.error("subsets", f"expected a mapping with keys {', '.join(SPLITS)} "
                                   f"(a data directory each), got {dirs!r}")
    clips, metadata = [], []
    for split in SPLITS:
        d = need_dir(root / str(dirs[split]),
                     f"Kaldi data directory (corpora.{sec.name}.subsets.{split})")
        clips += load_dir(d, root, split)
        metadata += [p for p in (d / f for f in ("wav.scp", "text", "utt2spk", "spk2gender"))
                     if p.exists()]
    return Loaded(clips, metadata)
