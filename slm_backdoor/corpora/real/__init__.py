"""Real-corpus loaders: read an official on-disk layout under a local root (the `root` of a
`corpora.NAME` params section whose `source` names a loader) and write the same manifests
as the synthetic corpora: `<manifest_dir>/{train,dev,test}.csv` (manifest.COLUMNS, labels
empty where the corpus has none), `lexicon.txt` (every transcript word) and `speakers.csv`.

Manifest paths point at the corpus files themselves (relative when `root` is relative).
Audio must be 16 kHz (soundfile reads WAV, FLAC, NIST SPHERE, ...); with `resample: true`
other rates are resampled with torchaudio into `<audio_dir>/<split>/<id>.wav`, otherwise a
file at another rate is an error naming it. Clips without samples (e.g. one known empty
CREMA-D file) and clips longer than `max_duration` are left out and counted. `limit`
({split: N}) keeps a seeded sample of N clips of a split. Both output directories are
built in temporary siblings and renamed into place: an error leaves nothing half-written.

| source      | module      | labels                              |
|-------------|-------------|-------------------------------------|
| librispeech | librispeech | transcript, gender                  |
| cremad      | cremad      | transcript, gender, age, emotion    |
| voxceleb    | voxceleb    | gender, age                         |
| iemocap     | iemocap     | transcript, gender, emotion         |
| kaldi       | kaldi       | transcript, gender (spk2gender)     |
"""
from __future__ import annotations

import hashlib
import sys
from collections import Counter
from pathlib import Path

import pandas as pd

from ...audio import SAMPLE_RATE, read_audio, write_wav
from ...lineage import atomic_path
from ...manifest import COLUMNS, write_manifest
from . import cremad, iemocap, kaldi, librispeech, voxceleb
from .common import SPLITS, Clip, LoaderError, Section, _rng, fail

# Keys of a corpus section that only synthetic corpora read: a real corpus ignores them (the
# workflow drops them from its params, so they neither rerun it nor enter its lineage).
SYNTHETIC_KEYS = ("speakers", "clips_per_speaker")
SOURCES = {"librispeech": librispeech, "cremad": cremad, "voxceleb": voxceleb,
           "iemocap": iemocap, "kaldi": kaldi}
# Where a missing corpus comes from (the error for a root that does not exist says it).
OBTAIN = {
    "librispeech": "download it (set download: true, or fetch https://www.openslr.org/12) "
                   "and name the folder holding SPEAKERS.TXT and the subsets",
    "cremad": "it is public (https://github.com/CheyneyComputerScience/CREMA-D, Git LFS) but "
              "large: fetch it by hand and name the folder holding AudioWAV/",
    "voxceleb": "it needs a licence (https://www.robots.ox.ac.uk/~vgg/data/voxceleb/): put "
                "<speaker>/<video>/<utt>.wav and the annotations CSV there by hand",
    "iemocap": "it needs a licence (https://sail.usc.edu/iemocap/): put IEMOCAP_full_release "
               "(Session1..5) there by hand",
    "kaldi": "it needs the corpus licence (e.g. WSJ0 from the LDC): prepare Kaldi data "
             "directories with plain audio paths and put them there by hand",
}


def corpus_section(name: str, cfg: dict) -> tuple[Section, Path]:
    """The params section with the loader's defaults, and its existing root directory."""
    source = cfg.get("source")
    if source not in SOURCES:
        raise LoaderError(f"corpora.{name}.source: unknown loader {source!r} "
                          f"(one of {', '.join(SOURCES)})")
    sec = Section(name, {**SOURCES[source].DEFAULTS, **cfg})
    root = Path(str(sec.require("root")))
    if not root.is_dir():
        raise sec.error("root", f"{root}: corpus directory not found; {OBTAIN[source]} "
                                f"(README: Real corpora)")
    return sec, root


def options(sec: Section) -> tuple[bool, float | None, dict[str, int]]:
    """(resample, max_duration, limit) params, checked."""
    resample, max_dur = sec.get("resample", False), sec.get("max_duration")
    limit = sec.get("limit") or {}
    if not isinstance(resample, bool):
        raise sec.error("resample", f"expected true or false, got {resample!r}")
    if max_dur is not None and (isinstance(max_dur, bool) or
                                not isinstance(max_dur, (int, float)) or max_dur <= 0):
        raise sec.error("max_duration", f"expected a positive number of seconds, got {max_dur!r}")
    if not isinstance(limit, dict) or not set(limit) <= set(SPLITS) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in limit.values()):
        raise sec.error("limit", f"expected a mapping split -> positive whole number, "
                                 f"got {limit!r}")
    return resample, max_dur, limit


def probe(clip: Clip, sr: int, resample: bool, sec: Section) -> tuple[float, bool] | None:
    """(duration in seconds, needs resampling); None when the clip has no samples.

    The whole clip is read as training will read it (audio.read_audio: mono, at `sr` unless
    resampling, finite, not silent, readable to its end), so a bad file fails here, naming
    it, and not hours later in a training job; the duration is that of the samples read."""
    import soundfile as sf
    if clip.path.stat().st_size == 0:
        return None
    try:
        info = sf.info(str(clip.path))
    except Exception as e:  # LibsndfileError, RuntimeError, ...
        raise fail(clip.path, f"unreadable audio ({' '.join(str(e).split())})") from None
    if info.frames == 0:
        return None
    if info.samplerate != sr and not resample:
        raise fail(clip.path, f"sample rate {info.samplerate} Hz, expected {sr} Hz (set "
                              f"{sec.key('resample')}: true to resample)")
    wave = read_audio(clip.path, sr=info.samplerate, resample=False, downmix=False)
    return len(wave) / info.samplerate, info.samplerate != sr


def select(clips: list[Clip], sec: Section, seed: int, sr: int, skipped: Counter,
           progress: bool) -> list[tuple[Clip, float, bool]]:
    """Probe every clip; drop empty and too long ones; apply the per-split limit."""
    from tqdm import tqdm
    resample, max_dur, limit = options(sec)
    seen: dict[str, str] = {}
    for clip in clips:
        if clip.id in seen:
            raise fail(clip.path, f"clip id {clip.id} found twice ({seen[clip.id]} and "
                                  f"{clip.split}; a subset or session named twice?)")
        seen[clip.id] = clip.split
    kept = {s: [] for s in SPLITS}
    for clip in tqdm(sorted(clips, key=lambda c: (c.split, c.id)), desc=f"probe {sec.name}",
                     unit="clip", disable=not progress, file=sys.stderr, dynamic_ncols=True):
        p = probe(clip, sr, resample, sec)
        if p is None:
            skipped["empty_audio"] += 1
        elif max_dur is not None and p[0] > max_dur:
            skipped["too_long"] += 1
        else:
            kept[clip.split].append((clip, *p))
    for split, n in limit.items():
        if len(kept[split]) > n:
            idx = sorted(_rng(seed, "limit", sec.name, split).choice(len(kept[split]), n,
                                                                       replace=False))
            skipped[f"limit_{split}"] += len(kept[split]) - n
            kept[split] = [kept[split][i] for i in idx]
    for split in SPLITS:
        if not kept[split]:
            raise sec.error("root", f"{sec.get('root')}: no usable clips for the {split} split")
    return [k for s in SPLITS for k in kept[s]]


def tree_listing(paths) -> str:
    """What a corpus root holds, cheaply: one line per file under `paths` (directories walked,
    sorted), with its size in bytes and mtime in ns. A file added, deleted or rewritten
    changes the listing, so the workflow can compare a corpus tree as it compares files."""
    lines = []
    for top in map(Path, paths):
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for f in files:
            st = f.stat()
            lines.append(f"{f}\t{st.st_size}\t{st.st_mtime_ns}\n")
    return "".join(lines)


def write_listing(path: str | Path, paths) -> bool:
    """Write tree_listing(paths) to `path` (atomically) when it differs from what is there, so
    the file's mtime moves only when the tree changed; True when written."""
    text, p = tree_listing(paths), Path(path)
    if p.is_file() and p.read_text() == text:
        return False
    with atomic_path(p) as tmp:
        tmp.write_text(text)
    return True


def listing_sha256(clips: list[tuple[Clip, float, bool]]) -> str:
    """A cheap fingerprint of the audio used: path and size of every file."""
    h = hashlib.sha256()
    for clip, _, _ in clips:
        h.update(f"{clip.path}\t{clip.path.stat().st_size}\n".encode())
    return h.hexdigest()


def write(sec: Section, kept, sr: int, manifest_dir: Path, audio_dir: Path,
          progress: bool) -> dict[str, Path]:
    """Resample what needs it, then write the manifests, lexicon and speaker list."""
    from tqdm import tqdm
    rows = {s: [] for s in SPLITS}
    with atomic_path(manifest_dir) as man_tmp, atomic_path(audio_dir) as aud_tmp:
        man_tmp.mkdir(parents=True)
        aud_tmp.mkdir(parents=True)
        for clip, dur, needs in tqdm(kept, desc=f"write {sec.name}", unit="clip",
                                     disable=not progress, file=sys.stderr, dynamic_ncols=True):
            path = clip.path
            if needs:
                (aud_tmp / clip.split).mkdir(exist_ok=True)
                write_wav(aud_tmp / clip.split / f"{clip.id}.wav", read_audio(path, sr), sr,
                          atomic=False)
                path = audio_dir / clip.split / f"{clip.id}.wav"
            rows[clip.split].append({
                "id": clip.id, "path": str(path), "duration": f"{dur:.4f}",
                "speaker": clip.speaker, "dataset": sec.name, "split": clip.split,
                "transcript": clip.transcript, "gender": clip.gender, "age": clip.age,
                "emotion": clip.emotion})
        out = {}
        for split in SPLITS:
            write_manifest(pd.DataFrame(rows[split], columns=COLUMNS), man_tmp / f"{split}.csv")
            out[split] = manifest_dir / f"{split}.csv"
        words = sorted({w for r in sum(rows.values(), []) for w in r["transcript"].split()})
        (man_tmp / "lexicon.txt").write_text("".join(f"{w}\n" for w in words))
        spk = pd.DataFrame([r for s in SPLITS for r in rows[s]])
        spk = spk.groupby("speaker", sort=True).agg(split=("split", "first"),
                                                   gender=("gender", "first"),
                                                   n_clips=("id", "size")).reset_index()
        spk.to_csv(man_tmp / "speakers.csv", index=False)
    return out


def prepare_corpus(name: str, cfg: dict, seed: int, manifest_dir: Path, audio_dir: Path,
                   sr: int = SAMPLE_RATE, progress: bool = True) -> dict:
    """Load corpus `name` from its params section and write its manifests.

    Returns {"manifests": {split: path}, "n_clips": {split: n}, "skipped": {reason: n},
    "metadata": [label files], "root", "source", "listing_sha256", "resampled"}.
    """
    sec, root = corpus_section(name, cfg)
    loaded = SOURCES[sec.get("source")].load(root, sec, seed)
    skipped = Counter(loaded.skipped)
    kept = select(loaded.clips, sec, seed, sr, skipped, progress)
    manifests = write(sec, kept, sr, Path(manifest_dir), Path(audio_dir), progress)
    return {"manifests": manifests,
            "n_clips": dict(Counter(c.split for c, _, _ in kept)),
            "skipped": dict(sorted(skipped.items())),
            "metadata": [str(p) for p in loaded.metadata],
            "root": str(root), "source": sec.get("source"),
            "listing_sha256": listing_sha256(kept),
            "resampled": sum(1 for _, _, needs in kept if needs)}


__all__ = ["LoaderError", "OBTAIN", "SOURCES", "SYNTHETIC_KEYS", "prepare_corpus", "tree_listing",
           "write_listing"]
