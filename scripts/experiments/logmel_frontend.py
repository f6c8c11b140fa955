#!/usr/bin/env python
"""Experiment (docs/click_loss.md, third round): the waveform families (WavLM, HuBERT,
wav2vec 2.0) with a fixed log-mel front end in place of their learned CNN. The spectrum probe
found the click in a fixed mel spectrum (pooled probe 1.00) where every learned CNN blurs it;
Whisper, whose input is log-mel, is the one family where the click takes. Does the same input
make it take for WavLM?

Superseded by `pretrain.encoder.arch.frontend: logmel` (slm_backdoor/models/frontends.py),
now the tiny default; kept to load the encoder measured first, saved before the option
existed. The stock model class is kept; only its `feature_extractor` (the CNN) is swapped for
`LogMelFrontEnd`: an 80-band mel spectrum with the first conv layer's window and hop
(25 ms / 10 ms by default), in Whisper's log units, then averaged over the later conv layers' (kernel, stride),
so the frame rate and `_get_feat_extract_output_lengths` stay the stock ones. Its output goes
to the stock feature projection (LayerNorm + Linear), so the arch's last `conv_dim` must be
80. The swap is made on every SpeechEncoder built or loaded in the process, before the
pretraining and again in the attack run (the module has no weights; the saved checkpoint's
CNN weights are ignored). This is not a stock front end: a deviation if it landed.

    .venv/bin/python scripts/experiments/logmel_frontend.py pretrain_encoder ARGS...
    .venv/bin/python scripts/experiments/logmel_frontend.py train ARGS...
    .venv/bin/python scripts/experiments/logmel_frontend.py scripts/click_diagnostic.py ARGS...
"""
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[0] = str(ROOT)

from slm_backdoor.models.encoders import SpeechEncoder  # noqa: E402
from slm_backdoor.models.frontends import N_MELS, LogMelFrontEnd  # noqa: E402

_init = SpeechEncoder.__init__


def __init__(self, family, model, feature_extractor=None):
    _init(self, family, model, feature_extractor)
    if family != "whisper":
        c = model.config
        if c.conv_dim[-1] != N_MELS:
            raise SystemExit(f"logmel_frontend: arch conv_dim[-1] must be {N_MELS} (the feature "
                             f"projection's input), got {c.conv_dim[-1]}")
        model.feature_extractor = LogMelFrontEnd(list(c.conv_kernel), list(c.conv_stride))


SpeechEncoder.__init__ = __init__
stage = sys.argv.pop(1)  # a stage's name, or a script's path from the repo root
sys.argv[0] = str(ROOT / stage if stage.endswith(".py") else ROOT / "stages" / f"{stage}.py")
runpy.run_path(sys.argv[0], run_name="__main__")
