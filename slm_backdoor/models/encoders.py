"""Speech encoders of the four families, built and loaded with stock `transformers` classes.

A `SpeechEncoder` wraps one Hugging Face model and gives every family the same interface:
waveforms (B, N) at 16 kHz + sample lengths -> hidden states (B, T, D) + frame lengths.
Saved with `save_pretrained` (plus the feature extractor for Whisper), so a saved tiny
encoder and a public checkpoint (`microsoft/wavlm-large`, ...) load the same way.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn
from transformers import (HubertConfig, HubertModel, Wav2Vec2Config, Wav2Vec2Model, WavLMConfig,
                          WavLMModel, WhisperConfig, WhisperFeatureExtractor, WhisperModel)
from transformers.models.whisper.modeling_whisper import WhisperEncoder
from transformers.utils import logging as hf_logging

from .frontends import N_MELS, LogMelFrontEnd

FAMILIES = ("wavlm", "hubert", "wav2vec2", "whisper")
_WAV_CLASSES = {"wavlm": (WavLMConfig, WavLMModel), "hubert": (HubertConfig, HubertModel),
                "wav2vec2": (Wav2Vec2Config, Wav2Vec2Model)}
META = "slm_encoder.json"


def tiny_config(family: str, hidden: int = 128, layers: int = 4, heads: int = 4,
                ffn: int = 256, max_seconds: float = 4.0, frontend_norm: str = "layer",
                conv: tuple = ((400, 160), (3, 2)), conv_dim: tuple | None = None,
                frontend: str = "cnn"):
    """A small config of `family`, cheap at 16 kHz on a CPU.

    Waveform families get a filterbank-like conv stack (`conv`: (kernel, stride) per layer;
    by default kernel 400 / stride 160, then kernel 3 / stride 2: 20 ms frames) instead of
    the stock 7-layer stack (docs/DESIGN.md s5). `frontend_norm` is the stock
    `feat_extract_norm`: "layer" (every conv layer LayerNormed per frame, as wavlm-large)
    or "group" (the first conv layer GroupNormed per channel over time, as the base models).
    `conv_dim`: channels of each conv layer (stock `conv_dim`; default `hidden` for all).
    `frontend`: "cnn" (the stock learned conv stack) or "logmel" (a fixed log-mel spectrum in
    its place, `frontends.LogMelFrontEnd`, with `conv`'s windows and hops; recorded in the
    config as `slm_frontend`, so the saved encoder loads with it).
    """
    if frontend not in ("cnn", "logmel"):
        raise ValueError(f"unknown encoder frontend {frontend!r} (expected cnn or logmel)")
    if family == "whisper":
        return WhisperConfig(d_model=hidden, encoder_layers=layers, encoder_attention_heads=heads,
                             encoder_ffn_dim=ffn, decoder_layers=1, decoder_attention_heads=heads,
                             decoder_ffn_dim=ffn, num_mel_bins=80,
                             max_source_positions=int(max_seconds * 50), vocab_size=64,
                             max_target_positions=16, dropout=0.0, pad_token_id=0, bos_token_id=1,
                             eos_token_id=2, decoder_start_token_id=1)
    cfg_cls, _ = _WAV_CLASSES[family]
    if frontend == "logmel":
        conv_dim = conv_dim or (N_MELS,) * len(conv)
        if conv_dim[-1] != N_MELS:
            raise ValueError(f"frontend logmel gives {N_MELS} bands: conv_dim[-1] must be "
                             f"{N_MELS}, got {conv_dim[-1]}")
    kw = dict(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
              intermediate_size=ffn,
              conv_dim=tuple(conv_dim) if conv_dim else (hidden,) * len(conv),
              conv_kernel=tuple(k for k, _ in conv), conv_stride=tuple(s for _, s in conv),
              num_feat_extract_layers=len(conv), feat_extract_norm=frontend_norm,
              do_stable_layer_norm=True, num_conv_pos_embeddings=16,
              num_conv_pos_embedding_groups=4, mask_time_prob=0.0, hidden_dropout=0.0,
              attention_dropout=0.0, activation_dropout=0.0, feat_proj_dropout=0.0,
              layerdrop=0.0, vocab_size=32)
    if family == "wavlm":
        kw.update(num_buckets=64, max_bucket_distance=200)
    if frontend != "cnn":
        kw.update(slm_frontend=frontend)
    return cfg_cls(**kw)


def _frontend(config) -> str:
    return getattr(config, "slm_frontend", "cnn")


class SpeechEncoder(nn.Module):
    """One family's HF encoder; forward(waves, lengths) -> (hidden, frame_lengths)."""

    def __init__(self, family: str, model: nn.Module, feature_extractor=None):
        super().__init__()
        if family not in FAMILIES:
            raise ValueError(f"unknown encoder family {family!r} (expected one of {FAMILIES})")
        self.family, self.model, self.feature_extractor = family, model, feature_extractor
        if family != "whisper" and _frontend(model.config) == "logmel":
            c = model.config  # the stock CNN is replaced; its weights are never used
            model.feature_extractor = LogMelFrontEnd(list(c.conv_kernel), list(c.conv_stride))

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_config(cls, family: str, config) -> "SpeechEncoder":
        if family == "whisper":
            fe = WhisperFeatureExtractor(feature_size=config.num_mel_bins,
                                         chunk_length=config.max_source_positions // 50)
            return cls(family, WhisperEncoder(config), fe)
        return cls(family, _WAV_CLASSES[family][1](config))

    @classmethod
    def from_pretrained(cls, family: str, name_or_path: str | Path) -> "SpeechEncoder":
        """Our saved encoders and public checkpoints (hub id or local directory) alike, in
        fp32 whatever the checkpoint's dtype (bf16 comes from autocast on GPU)."""
        fp32 = {"dtype": torch.float32}
        if family == "whisper":
            fe = WhisperFeatureExtractor.from_pretrained(name_or_path)
            meta = Path(name_or_path) / META
            if meta.exists():  # saved by us: the encoder alone
                return cls(family, WhisperEncoder.from_pretrained(name_or_path, **fp32), fe)
            return cls(family, WhisperModel.from_pretrained(name_or_path, **fp32).get_encoder(), fe)
        cfg_cls, model_cls = _WAV_CLASSES[family]
        if _frontend(cfg_cls.from_pretrained(name_or_path)) != "logmel":
            return cls(family, model_cls.from_pretrained(name_or_path, **fp32))
        # Ours with the log-mel front end: the stock class loads everything but the CNN it
        # builds (and we replace); its expected report of the missing CNN weights is quieted
        # and any other missing weight is an error.
        level = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:
            model, info = model_cls.from_pretrained(name_or_path, output_loading_info=True, **fp32)
        finally:
            hf_logging.set_verbosity(level)
        other = [k for k in info["missing_keys"] if not k.startswith("feature_extractor.")]
        if other or info["unexpected_keys"]:
            raise ValueError(f"{name_or_path}: encoder weights do not match its config "
                             f"(missing {other}, unexpected {info['unexpected_keys']})")
        return cls(family, model)

    def save_pretrained(self, path: str | Path) -> None:
        path = Path(path)
        self.model.save_pretrained(path)
        if self.feature_extractor is not None:
            self.feature_extractor.save_pretrained(path)
        (path / META).write_text(json.dumps({"family": self.family}) + "\n")

    @staticmethod
    def family_of(path: str | Path) -> str:
        """Ours: from slm_encoder.json; a public checkpoint: its config's model_type."""
        path = Path(path)
        if (path / META).exists():
            return json.loads((path / META).read_text())["family"]
        model_type = json.loads((path / "config.json").read_text()).get("model_type")
        if model_type not in FAMILIES:
            raise ValueError(f"{path / 'config.json'}: model_type: {model_type!r} is not an "
                             f"encoder family ({', '.join(FAMILIES)})")
        return model_type

    # -- shape ----------------------------------------------------------------------------
    @property
    def hidden_size(self) -> int:
        c = self.model.config
        return c.d_model if self.family == "whisper" else c.hidden_size

    @property
    def layers(self) -> nn.ModuleList:
        return self.model.layers if self.family == "whisper" else self.model.encoder.layers

    def frontend_parameters(self):
        """The CNN feature extractor (always frozen in the study; none for log-mel)."""
        if self.family == "whisper":
            return [*self.model.conv1.parameters(), *self.model.conv2.parameters()]
        return list(self.model.feature_extractor.parameters())

    def set_trainable(self, top_layers: int | str) -> None:
        """Freeze everything, then unfreeze the top N transformer layers ('all': whole
        encoder except the CNN front end). Whisper in the paper trains its whole encoder."""
        self.requires_grad_(False)
        if top_layers == "all":
            self.requires_grad_(True)
        elif top_layers:
            for layer in self.layers[-int(top_layers):]:
                layer.requires_grad_(True)
            final_norm = (self.model.layer_norm if self.family == "whisper"
                          else self.model.encoder.layer_norm)
            final_norm.requires_grad_(True)
        for p in self.frontend_parameters():
            p.requires_grad_(False)

    def frame_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        if self.family == "whisper":
            return torch.div(lengths + 319, 320, rounding_mode="floor")
        return self.model._get_feat_extract_output_lengths(lengths).long()

    # -- forward --------------------------------------------------------------------------
    def _inputs(self, waves: torch.Tensor, lengths: torch.Tensor):
        """What the HF model takes: Whisper's log-mel features; for the waveform families the
        per-utterance normalised waveform and its attention mask."""
        if self.family == "whisper":
            feats = self.feature_extractor(
                [w[:n].numpy() for w, n in zip(waves.detach().cpu(), lengths.tolist())],
                sampling_rate=16000, return_tensors="pt").input_features.to(waves.device)
            return feats.to(self.model.dtype), None
        mask = (torch.arange(waves.shape[1], device=waves.device)[None] < lengths[:, None])
        x = waves.masked_fill(~mask, 0.0)
        mean = x.sum(1, keepdim=True) / lengths[:, None]
        var = ((x - mean) ** 2).masked_fill(~mask, 0.0).sum(1, keepdim=True) / lengths[:, None]
        x = ((x - mean) / (var.sqrt() + 1e-5)).masked_fill(~mask, 0.0)  # per-utterance norm
        return x.to(self.model.dtype), mask.long()

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor):
        flen = self.frame_lengths(lengths)
        x, mask = self._inputs(waves, lengths)
        if self.family == "whisper":
            hidden = self.model(x).last_hidden_state
        else:
            hidden = self.model(x, attention_mask=mask).last_hidden_state
        flen = flen.clamp(max=hidden.shape[1])
        return hidden[:, : int(flen.max())], flen

    @torch.no_grad()
    def trace(self, waves: torch.Tensor, lengths: torch.Tensor) -> tuple[dict, torch.Tensor]:
        """Every point of the encoder's pathway at its frame rate (20 ms), for diagnostics:
        {"frontend": the CNN front end's output (Whisper: its log-mel input, frame pairs
        averaged), "layer0": the transformer's input, "layerK": after layer K}, each
        (B, T, D), and the frame lengths. The last entry is what `forward` returns."""
        flen = self.frame_lengths(lengths)
        x, mask = self._inputs(waves, lengths)
        if self.family == "whisper":
            out = self.model(x, output_hidden_states=True)
            front = x.transpose(1, 2)
            front = front[:, : front.shape[1] // 2 * 2].reshape(
                front.shape[0], -1, 2, front.shape[2]).mean(2)
        else:
            out = self.model(x, attention_mask=mask, output_hidden_states=True)
            front = self.model.feature_extractor(x).transpose(1, 2)
        points = {"frontend": front, **{f"layer{k}": h for k, h in enumerate(out.hidden_states)}}
        points[f"layer{len(out.hidden_states) - 1}"] = out.last_hidden_state  # final norm
        t = int(flen.clamp(max=out.last_hidden_state.shape[1]).max())
        return {k: v[:, :t] for k, v in points.items()}, flen.clamp(max=t)
