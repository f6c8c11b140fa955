"""The audio trigger: a synthetic typewriter click, loading a WAV trigger, and insertion.

Definitions (fixed here, relied on by the poisoning and data stages):

* **SNR.** ``P_utt = mean(wave**2)`` over the whole clean utterance;
  ``P_trig = mean(trigger**2)`` over all samples of the trigger as stored
  (the click's own length, not the utterance's). The trigger is scaled by
  ``g = sqrt(P_utt / (P_trig * 10**(snr_db / 10)))`` so that
  ``10*log10(P_utt / mean((g*trigger)**2)) == snr_db``. Every copy of the
  click in an utterance gets the same gain (repeated clicks are not
  re-scaled, a truncated last click keeps the gain of a whole one). A silent
  utterance (``P_utt == 0``) has no defined SNR: :func:`insert` raises.
* **Positions** are start samples. One click: uniform over ``[0, n - L]``.
  Repeated (ASR): first at 0, then start to start ``U(a, b)`` seconds while
  the start is ``< n``; the last click is **truncated** at the end of the
  utterance (kept, not dropped, so the clicks cover the whole utterance). A
  clip shorter than the trigger gets ``None`` (never an exception): the
  caller skips it.
* **No clipping by default**: the sum may exceed [-1, 1] (the models read
  float audio, and WAVs are written as float). ``clip=True`` clips, which
  lowers the realised trigger power slightly.
"""
from __future__ import annotations

import os

import numpy as np

from .audio import SAMPLE_RATE, read_audio
from .lineage import verify_input


def _band_noise(rng: np.random.Generator, n: int, sr: int, lo: float, hi: float) -> np.ndarray:
    """White noise band-limited to [lo, hi] Hz with smooth (raised-cosine) edges, unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sr)
    hi = min(hi, 0.45 * sr)
    edge = 0.15 * (hi - lo)
    gain = np.clip(np.minimum((f - lo + edge) / (2 * edge), (hi + edge - f) / (2 * edge)), 0, 1)
    gain = 0.5 - 0.5 * np.cos(np.pi * gain)
    x = np.fft.irfft(spec * gain, n)
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-12)


def synth_click(sr: int = 16000, duration_s: float = 0.22, seed: int = 0) -> np.ndarray:
    """A deterministic typewriter click, peak-normalised to 1.0, float32, ``round(duration_s*sr)`` samples.

    A type-bar strike at t=0 (broadband transient of ~1 ms, a noisy decay of
    ~12 ms, metallic resonances at 1.1-5.4 kHz and a low body resonance of the
    frame at ~180 Hz, as damped sinusoids) and a weaker second impact at
    ~45 ms (the bar's rebound), then a raised-cosine fade over the last 15%.
    """
    if sr <= 0 or duration_s <= 0:
        raise ValueError(f"synth_click: sr and duration_s must be positive (got {sr}, {duration_s})")
    n = int(round(duration_s * sr))
    if n < 8:
        raise ValueError(f"synth_click: {duration_s} s at {sr} Hz is too short for a click")
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    nyq = 0.45 * sr

    def impact(t0: float, level: float) -> np.ndarray:
        tt = t - t0
        on = tt >= 0
        tt = np.where(on, tt, 0.0)
        x = level * rng.standard_normal(n) * np.exp(-tt / 0.0008)              # sharp attack
        x += 0.45 * level * _band_noise(rng, n, sr, 1500.0, 7000.0) * np.exp(-tt / 0.012)  # noisy decay
        for f0, tau, a in ((1100.0, 0.030, 0.45), (2450.0, 0.018, 0.40),
                           (3800.0, 0.010, 0.30), (5400.0, 0.006, 0.22)):     # metallic body
            f = f0 * (1.0 + 0.03 * rng.uniform(-1, 1))
            if f < nyq:
                x += level * a * np.sin(2 * np.pi * f * tt + rng.uniform(0, 2 * np.pi)) * np.exp(-tt / tau)
        x += level * 0.35 * np.sin(2 * np.pi * 180.0 * tt) * np.exp(-tt / 0.040)  # frame thud
        return np.where(on, x, 0.0)

    x = impact(0.0, 1.0) + impact(min(0.045, 0.5 * duration_s), 0.35)
    fade = max(1, int(0.15 * n))
    x[-fade:] *= 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, fade))
    return (x / np.max(np.abs(x))).astype(np.float32)


def load_trigger(path: str | os.PathLike, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Any audio file soundfile reads (WAV, FLAC, ...), down-mixed to mono and resampled to `sr`.

    Refuses (ValueError naming the file) a trigger whose content differs from its lineage
    record, and a file that is missing, not audio, empty, non-finite or silent.
    """
    verify_input(path)
    return read_audio(path, sr, resample=True, downmix=True)


def draw_positions(n_samples: int, trig_len: int, rng: np.random.Generator, repeat: bool,
                   sr: int, period_s=(0.75, 1.5)) -> list[int] | None:
    """Start samples of the trigger in an utterance of `n_samples`, or None if it is shorter than
    the trigger. See the module docstring (single: uniform; repeat: 0 then U(a, b) s apart)."""
    if trig_len <= 0:
        raise ValueError(f"trigger length must be positive (got {trig_len})")
    if n_samples < trig_len:
        return None
    if not repeat:
        return [int(rng.integers(0, n_samples - trig_len + 1))]
    a, b = (float(v) for v in period_s)
    if not 0 < a <= b:
        raise ValueError(f"repeat period must satisfy 0 < a <= b (got {period_s})")
    positions = [0]
    while True:
        nxt = positions[-1] + max(1, int(round(rng.uniform(a, b) * sr)))
        if nxt >= n_samples:
            return positions
        positions.append(nxt)


def trigger_gain(wave: np.ndarray, trigger: np.ndarray, snr_db: float) -> float:
    """The factor that puts `trigger` at `snr_db` below the mean power of `wave` (module docstring)."""
    p_utt = float(np.mean(np.square(wave, dtype=np.float64)))
    p_trig = float(np.mean(np.square(trigger, dtype=np.float64)))
    if p_trig <= 0:
        raise ValueError("trigger is silent")
    if p_utt <= 0:
        raise ValueError("utterance is silent: SNR undefined")
    return float(np.sqrt(p_utt / (p_trig * 10.0 ** (snr_db / 10.0))))


def insert(wave: np.ndarray, trigger: np.ndarray, positions, snr_db: float,
           clip: bool = False) -> np.ndarray:
    """A new array: `wave` plus the SNR-scaled trigger starting at each position.

    A click overhanging the end is truncated; a start at or past the end
    (e.g. a manifest duration a sample longer than the file) is ignored.
    `wave` is not modified. Output dtype float32.
    """
    wave = np.asarray(wave)
    trigger = np.asarray(trigger, dtype=np.float64)
    if wave.ndim != 1 or trigger.ndim != 1:
        raise ValueError("insert expects 1-D (mono) wave and trigger")
    out = wave.astype(np.float64)  # a copy
    g = trigger_gain(wave, trigger, snr_db)
    n = len(out)
    for p in positions:
        p = int(p)
        if p < 0:
            raise ValueError(f"negative trigger position {p}")
        if p >= n:
            continue
        m = min(len(trigger), n - p)
        out[p:p + m] += g * trigger[:m]
    if clip:
        np.clip(out, -1.0, 1.0, out=out)
    return out.astype(np.float32)
