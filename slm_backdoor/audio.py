"""Reading and writing audio with validation (base layer: no project imports but lineage)."""
from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from .lineage import atomic_path

SAMPLE_RATE = 16000
# A file whose peak stays below this is treated as silent (about -90 dBFS, i.e. digital zero
# after 16-bit quantisation).
SILENCE_PEAK = 3.1e-5


class AudioError(ValueError):
    """An audio file is missing, unreadable or unusable; the message names the file."""


def resample_audio(wave: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Band-limited resampling with torchaudio (float32 in, float32 out)."""
    if sr_in == sr_out:
        return np.asarray(wave, dtype=np.float32)
    import torch
    import torchaudio.functional as AF

    x = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))
    return AF.resample(x, int(sr_in), int(sr_out)).numpy().astype(np.float32)


def _wav_missing_bytes(p: Path) -> int:
    """For a RIFF/WAVE file, how many bytes of its data chunk the header declares but the file
    lacks (libsndfile silently reads a WAV cut inside its data as a shorter clip); else 0."""
    with open(p, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return 0
        while len(chunk := f.read(8)) == 8:
            size = int.from_bytes(chunk[4:], "little")
            if chunk[:4] == b"data":
                left = p.stat().st_size - f.tell()
                return 0 if size in (0, 0xFFFFFFFF) else max(0, size - left)  # 0/-1: streamed
            f.seek(size + size % 2, os.SEEK_CUR)
    return 0


def read_audio(path: str | os.PathLike, sr: int = SAMPLE_RATE, resample: bool = True,
               downmix: bool = True) -> np.ndarray:
    """Read an audio file as float32 mono at `sr`.

    Multichannel audio is down-mixed (channel mean) when `downmix` is true, an error
    otherwise; another rate is resampled when `resample` is true, an error otherwise.
    Raises AudioError (one line, naming the file) for a missing, unreadable or truncated
    file, no samples, NaN/inf samples, or all-silent audio.
    """
    import soundfile as sf

    p = Path(path)
    if not p.exists():
        raise AudioError(f"{p}: audio file not found")
    if not p.is_file():
        raise AudioError(f"{p}: not a regular file")
    try:
        data, file_sr = sf.read(str(p), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises LibsndfileError/RuntimeError/TypeError
        msg = " ".join(str(e).split()) or type(e).__name__
        raise AudioError(f"{p}: unreadable or truncated audio ({msg})") from None
    if (missing := _wav_missing_bytes(p)) > 0:
        raise AudioError(f"{p}: truncated WAV ({missing} bytes of its data chunk missing)")
    if data.size == 0 or data.shape[0] == 0:
        raise AudioError(f"{p}: empty audio (no samples)")
    if not np.isfinite(data).all():
        raise AudioError(f"{p}: audio contains NaN or infinite samples")
    if data.shape[1] > 1 and not downmix:
        raise AudioError(f"{p}: {data.shape[1]} channels, expected mono")
    wave = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    wave = np.ascontiguousarray(wave, dtype=np.float32)
    if float(np.max(np.abs(wave))) < SILENCE_PEAK:
        raise AudioError(f"{p}: audio is silent (all samples zero)")
    if file_sr != sr:
        if not resample:
            raise AudioError(f"{p}: sample rate {file_sr} Hz, expected {sr} Hz")
        wave = resample_audio(wave, file_sr, sr)
    return wave


def _float_wav(w: np.ndarray, sr: int) -> bytes:
    """Mono IEEE-float WAV bytes. Written by hand: libsndfile adds a PEAK chunk holding the
    time of writing to float WAVs, so the same samples would give other bytes on each run."""
    data = np.ascontiguousarray(w, dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHHH", 3, 1, sr, 4 * sr, 4, 32, 0)  # IEEE float, mono, 32 bit
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"fact" + struct.pack("<II", 4, len(w)) + b"data" + struct.pack("<I", len(data)) + data)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def write_wav(path: str | os.PathLike, wave: np.ndarray, sr: int = SAMPLE_RATE,
              atomic: bool = True, exact: bool = False) -> Path:
    """Write mono (or [time, channels]) float audio as 16-bit PCM WAV, atomically.

    Samples are clipped to [-1, 1]; `exact=True` stores mono float32 samples as they are
    (32-bit float WAV, same bytes for the same samples). Raises AudioError for empty or
    non-finite audio. `atomic=False` writes in place (for files inside a directory that is
    itself being built in a temporary location and renamed).
    """
    import soundfile as sf

    p = Path(path)
    w = np.asarray(wave, dtype=np.float32)
    if w.size == 0:
        raise AudioError(f"{p}: refusing to write empty audio")
    if not np.isfinite(w).all():
        raise AudioError(f"{p}: refusing to write NaN or infinite samples")
    if exact and w.ndim != 1:
        raise AudioError(f"{p}: exact (float) WAVs are mono only")

    def write(target: Path) -> None:
        if exact:
            target.write_bytes(_float_wav(w, int(sr)))
        else:
            sf.write(str(target), np.clip(w, -1.0, 1.0), int(sr), subtype="PCM_16", format="WAV")

    if not atomic:
        write(p)
        return p
    with atomic_path(p) as tmp:
        write(tmp)
    return p
