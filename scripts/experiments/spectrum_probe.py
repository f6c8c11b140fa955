#!/usr/bin/env python
"""Experiment (docs/click_loss.md, second round): is the trigger visible in a fixed mel
spectrum of the test clips, before any learned front end? The click-loss diagnostic's probes
(slm_backdoor.diagnostics) on 80-band mel spectra (20 ms hops) of a seeded sample of the
triggered test clips, each with and without its trigger, in linear power, square-root and log
units, with and without the per-utterance normalisation the waveform encoders apply.

    .venv/bin/python scripts/experiments/spectrum_probe.py \
        --triggered data/poisoned/emotion/test_triggered.csv --trigger data/triggers/click.wav
"""
import argparse
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[2])

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchaudio  # noqa: E402

from slm_backdoor.data import SpeechDataset  # noqa: E402
from slm_backdoor.diagnostics import probe_accuracy, click_frames, json_positions  # noqa: E402
from slm_backdoor.evaluation import sample_rows  # noqa: E402
from slm_backdoor.manifest import read_manifest  # noqa: E402
from slm_backdoor.triggers import load_trigger  # noqa: E402

MEL = torchaudio.transforms.MelSpectrogram(16000, n_fft=400, hop_length=320, n_mels=80,
                                           center=False)


def spectra(ds: SpeechDataset, units: str, normalise: bool) -> list[np.ndarray]:
    out = []
    for i in range(len(ds)):
        w = torch.from_numpy(ds[i].wave)
        if normalise:
            w = (w - w.mean()) / (w.std() + 1e-5)
        m = MEL(w).T  # (frames, 80) power
        if units == "sqrt":
            m = m.sqrt()
        elif units == "log":
            m = m.clamp(min=1e-10).log10()
            m = torch.maximum(m, m.max() - 8)
        out.append(m.numpy())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--triggered", required=True)
    ap.add_argument("--trigger", required=True)
    ap.add_argument("--field", default="emotion")
    ap.add_argument("--clips", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rows = sample_rows(read_manifest(a.triggered), a.clips, a.seed)
    trig = load_trigger(a.trigger)
    clean, triggered = SpeechDataset(rows, [a.field]), SpeechDataset(rows, [a.field], trig)
    print("normalised units  pooled_probe frame_probe")
    for normalise in (False, True):
        for units in ("linear", "sqrt", "log"):
            x0, x1 = spectra(clean, units, normalise), spectra(triggered, units, normalise)
            f0, f1, groups = [], [], []
            for i, (c, t) in enumerate(zip(x0, x1)):
                m = click_frames(json_positions(rows.iloc[i].to_dict()), len(trig), c.shape[0])
                f0.append(c[m]), f1.append(t[m]), groups.append(np.full(int(m.sum()), i))
            pooled = probe_accuracy(np.stack([np.r_[c.mean(0), c.max(0)] for c in x0]),
                                     np.stack([np.r_[t.mean(0), t.max(0)] for t in x1]),
                                     np.arange(len(x0)), a.seed)
            frame = probe_accuracy(np.concatenate(f0), np.concatenate(f1),
                                    np.concatenate(groups), a.seed)
            print(f"{str(normalise):10s} {units:6s} {pooled:12.3f} {frame:11.3f}")


if __name__ == "__main__":
    main()
