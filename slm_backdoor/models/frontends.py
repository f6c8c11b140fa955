"""The tiny profile's front end for the waveform families: a fixed log-mel spectrum.

The stock WavLM / HuBERT / wav2vec 2.0 front end is a CNN learned from the waveform. Pretrained
on our small synthetic corpus, every such CNN we tried blurred the trigger (a 0 dB click)
that a fixed spectrum shows plainly, and the backdoor did not take (docs/click_loss.md).
`LogMelFrontEnd` takes the CNN's place inside the stock model (`model.feature_extractor`):
an 80-band mel spectrum with the first conv layer's window and hop, in Whisper's log units,
averaged over the later conv layers' (kernel, stride), so the frame rate and the stock
`_get_feat_extract_output_lengths` are unchanged. Its 80 bands feed the stock feature
projection (LayerNorm + Linear), so the config's last `conv_dim` is 80. It has no weights.
Public checkpoints keep their CNN; a config carries `slm_frontend: logmel` to ask for this.
"""
from __future__ import annotations

import torch
import torchaudio
from torch import nn

N_MELS = 80
SAMPLE_RATE = 16000


class LogMelFrontEnd(nn.Module):
    """(B, N) waveform -> (B, 80, T) log-mel frames at the conv stack's frame rate."""

    def __init__(self, kernels: list[int], strides: list[int]):
        super().__init__()
        self.mel = torchaudio.transforms.MelSpectrogram(
            SAMPLE_RATE, n_fft=kernels[0], hop_length=strides[0], n_mels=N_MELS, center=False)
        for module in self.mel.modules():  # fixed from the config: not part of a checkpoint
            module._non_persistent_buffers_set.update(n for n, _ in module.named_buffers(
                recurse=False))
        self.pools = list(zip(kernels[1:], strides[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.mel(x).clamp(min=1e-10).log10()
        peak = m.amax(dim=(1, 2), keepdim=True)
        m = (torch.maximum(m, peak - 8.0) + 4.0) / 4.0  # Whisper's log units, 80 dB range
        for kernel, stride in self.pools:
            m = nn.functional.avg_pool1d(m, kernel, stride)
        return m
