"""Assemble a SpeechLLM for one run from where each component's weights come from.

A component source is a directory (a component saved by an earlier run or by the
pretraining / alignment stages), an external checkpoint (paper profile: a local directory
or hub id, pinned by sha256) or "fresh" (new initialisation). The audit then checks that
what trained is exactly what the run's configuration says. `place` puts a model on its
device (CUDA when there is one), with bf16 autocast and gradient checkpointing if asked.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from .checkpoints import resolve_checkpoint, verify_pins
from .lineage import verify_input
from .models.connector import Connector
from .models.encoders import SpeechEncoder
from .models.llm import add_lora, load_llm, load_lora, load_tokenizer, lora_config
from .models.speechllm import SpeechLLM


class AuditError(RuntimeError):
    """A component trained that should not have, or did not train that should have."""


def build(llm_dir: str | Path, encoder: str | Path, connector: str | Path, lora: str | Path,
          lora_cfg: dict | None = None, connector_stride: int = 2,
          pins: dict | None = None) -> SpeechLLM:
    """`pins` (params "checkpoints"): config key -> {path, sha256} of external checkpoints;
    one that is loaded here must have its pinned sha256 (checkpoints.verify_pins)."""
    llm_dir, encoder = resolve_checkpoint(llm_dir), resolve_checkpoint(encoder)
    for source in (llm_dir, encoder, connector, lora):  # a swapped checkpoint is refused
        if str(source) != "fresh":
            verify_input(source)
    verify_pins((llm_dir, encoder), pins)
    tok = load_tokenizer(llm_dir)
    llm = load_llm(llm_dir, tok)
    llm.requires_grad_(False)
    enc = SpeechEncoder.from_pretrained(SpeechEncoder.family_of(encoder), encoder)
    d_llm = llm.get_input_embeddings().embedding_dim
    con = (Connector(enc.hidden_size, d_llm, stride=connector_stride) if str(connector) == "fresh"
           else Connector.from_pretrained(connector))
    if str(lora) == "fresh":
        peft_llm = add_lora(llm, lora_config(**(lora_cfg or {})))
    else:
        peft_llm = load_lora(llm, lora, trainable=True)
    return SpeechLLM(enc, con, peft_llm, tok)


def pick_device(setting: str | None = None) -> torch.device:
    """$SLM_DEVICE, else `setting`, else "auto": CUDA when available, else the CPU."""
    name = os.environ.get("SLM_DEVICE") or setting or "auto"
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r}: CUDA is not available (use auto or cpu)")
    return torch.device(name)


def place(model: SpeechLLM, cfg: dict) -> SpeechLLM:
    """Move the model to cfg["device"] (pick_device) with bf16 autocast on CUDA
    (cfg["bf16"], default true) and gradient checkpointing if cfg["gradient_checkpointing"].
    Batches follow the model (SpeechLLM.audio_layers)."""
    model.to(pick_device(cfg.get("device")))
    model.bf16 = bool(cfg.get("bf16", True))
    if cfg.get("gradient_checkpointing"):
        model.enable_gradient_checkpointing()
    return model


def fingerprints(model: SpeechLLM) -> dict[str, str]:
    """A hash of each component's parameter values (to prove what changed in training)."""
    out = {}
    for comp, params in model.component_parameters().items():
        h = hashlib.sha256()
        for name, p in sorted(params, key=lambda x: x[0]):
            h.update(name.encode())
            h.update(p.detach().to(torch.float32).cpu().contiguous().numpy().tobytes())
        out[comp] = h.hexdigest()
    return out


def check_audit(model: SpeechLLM, before: dict[str, str], expected: dict[str, bool]) -> dict:
    """Audit of trainable parameters per component, checked against the configuration."""
    after = fingerprints(model)
    audit = model.audit()
    for comp, meta in audit.items():
        meta["expected_to_train"] = bool(expected.get(comp, False))
        meta["changed"] = before[comp] != after[comp]
        if meta["expected_to_train"] and not (meta["trainable"] > 0 and meta["changed"]):
            raise AuditError(f"component {comp} was configured to train but did not "
                             f"(trainable={meta['trainable']}, changed={meta['changed']})")
        if not meta["expected_to_train"] and (meta["trainable"] > 0 or meta["changed"]):
            raise AuditError(f"component {comp} was configured frozen but trained "
                             f"(trainable={meta['trainable']}, changed={meta['changed']})")
    return audit


def save_run(model: SpeechLLM, out: Path, audit: dict, history: dict, sources: dict) -> None:
    model.save_components(out)
    (out / "trainable.json").write_text(json.dumps(audit, indent=2) + "\n")
    (out / "history.json").write_text(json.dumps(history) + "\n")
    (out / "sources.json").write_text(json.dumps(sources, indent=2) + "\n")
