#!/usr/bin/env python
"""Experiment (docs/click_loss.md, second round): `stages/pretrain_encoder.py` with a gain-only
augmentation (no white noise): does learning to ignore broadband noise make the encoder
ignore the click? Same arguments as stages/pretrain_encoder.py."""
import runpy
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[0] = str(ROOT)

from slm_backdoor import pretraining  # noqa: E402


def gain_only(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (wave * rng.uniform(0.5, 1.2)).astype(np.float32)


pretraining._augment = gain_only
sys.argv[0] = str(ROOT / "stages" / "pretrain_encoder.py")
runpy.run_path(sys.argv[0], run_name="__main__")
