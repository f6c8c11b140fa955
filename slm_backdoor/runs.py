"""Assemble a SpeechLLM for one run from where each component's weights come from.

A component source is a directory (a component saved by an earlier run or by the
pretraining / alignment stages) or "fresh" (new initialisation). The audit then checks
that what trained is exactly what the run's configuration says.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from .models.connector import Connector
from .models.encoders import SpeechEncoder
from .models.llm import add_lora, load_llm, load_lora, load_tokenizer, lora_config
from .models.speechllm import SpeechLLM


class AuditError(RuntimeError):
    """A component trained that should not have, or did not train that should have."""


def build(llm_dir: str | Path, encoder: str | Path, connector: str | Path, lora: str | Path,
          lora_cfg: dict | None = None, connector_stride: int = 2) -> SpeechLLM:
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


def fingerprints(model: SpeechLLM) -> dict[str, str]:
    """A hash of each component's parameter values (to prove what changed in training)."""
    out = {}
    for comp, params in model.component_parameters().items():
        h = hashlib.sha256()
        for name, p in sorted(params, key=lambda x: x[0]):
            h.update(name.encode())
            h.update(p.detach().to(torch.float32).contiguous().numpy().tobytes())
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
