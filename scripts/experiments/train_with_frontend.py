#!/usr/bin/env python
"""Experiment (docs/click_loss.md, second round): `stages/train.py` with the encoder's CNN
front end training too, which the study never does (SpeechEncoder.set_trainable freezes it).
Is the frozen front end where the click is lost? Same arguments as stages/train.py, e.g.

    .venv/bin/python scripts/experiments/train_with_frontend.py --train-encoder all ...

The run's trainable.json records the front end among the encoder's trainable parameters.
"""
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[0] = str(ROOT)

from slm_backdoor.models.encoders import SpeechEncoder  # noqa: E402

_freezing = SpeechEncoder.set_trainable


def set_trainable(self, top_layers):
    _freezing(self, top_layers)
    for p in self.frontend_parameters():
        p.requires_grad_(True)


SpeechEncoder.set_trainable = set_trainable
sys.argv[0] = str(ROOT / "stages" / "train.py")
runpy.run_path(sys.argv[0], run_name="__main__")
