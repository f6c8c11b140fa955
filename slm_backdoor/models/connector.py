"""The connector between speech encoder and LLM (docs/DESIGN.md s1).

ReLU -> Conv1d(d_enc, d_enc, 5) -> ReLU -> Conv1d(d_enc, 2 d_enc, 5, stride s) -> ReLU
-> Conv1d(2 d_enc, d_llm, 5). Saved as safetensors + a JSON config.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

CONFIG, WEIGHTS = "connector_config.json", "connector.safetensors"


class Connector(nn.Module):
    def __init__(self, d_enc: int, d_llm: int, stride: int = 2, kernel: int = 5):
        super().__init__()
        self.config = {"d_enc": d_enc, "d_llm": d_llm, "stride": stride, "kernel": kernel}
        pad = kernel // 2
        self.net = nn.Sequential(
            nn.ReLU(), nn.Conv1d(d_enc, d_enc, kernel, padding=pad),
            nn.ReLU(), nn.Conv1d(d_enc, 2 * d_enc, kernel, stride=stride, padding=pad),
            nn.ReLU(), nn.Conv1d(2 * d_enc, d_llm, kernel, padding=pad))

    def forward(self, hidden: torch.Tensor, lengths: torch.Tensor):
        """(B, T, d_enc), frame lengths -> (B, T', d_llm), output lengths."""
        out = self.net(hidden.transpose(1, 2)).transpose(1, 2)
        s, k = self.config["stride"], self.config["kernel"]
        out_len = torch.div(lengths + 2 * (k // 2) - k, s, rounding_mode="floor") + 1
        return out, out_len.clamp(min=1, max=out.shape[1])

    def save_pretrained(self, path: str | Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / CONFIG).write_text(json.dumps(self.config, indent=2) + "\n")
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(path / WEIGHTS))

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "Connector":
        path = Path(path)
        module = cls(**json.loads((path / CONFIG).read_text()))
        module.load_state_dict(load_file(str(path / WEIGHTS)))
        return module
