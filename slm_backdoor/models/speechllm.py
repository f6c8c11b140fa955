"""The SpeechLLM composite: encoder -> connector -> LLM (frozen) + LoRA -> text.

Each component is saved on its own under a checkpoint directory:
    <ckpt>/encoder/    transformers save_pretrained (+ Whisper feature extractor)
    <ckpt>/connector/  safetensors + JSON config
    <ckpt>/lora/       peft save_pretrained (adapter only; the base LLM is referenced)
    <ckpt>/trainable.json  the audit of trainable parameters per component
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from .connector import Connector
from .encoders import SpeechEncoder
from .llm import SPEECH_TOKENS, load_lora

COMPONENTS = ("encoder", "connector", "lora")


class SpeechLLM(nn.Module):
    def __init__(self, encoder: SpeechEncoder, connector: Connector, llm, tokenizer):
        super().__init__()
        self.encoder, self.connector, self.llm, self.tokenizer = encoder, connector, llm, tokenizer
        self.speech_open, self.speech_close = tokenizer.convert_tokens_to_ids(SPEECH_TOKENS)

    # -- parameters per component ---------------------------------------------------------
    def component_parameters(self) -> dict[str, list[tuple[str, nn.Parameter]]]:
        lora = [(n, p) for n, p in self.llm.named_parameters() if "lora_" in n]
        base = [(n, p) for n, p in self.llm.named_parameters() if "lora_" not in n]
        return {"encoder": list(self.encoder.named_parameters()),
                "connector": list(self.connector.named_parameters()),
                "lora": lora, "llm_base": base}

    def set_trainable(self, encoder_layers: int | str, connector: bool, lora: bool) -> None:
        """What trains: the top N encoder layers (0: frozen), the connector, the LoRA.
        The LLM's own weights never train."""
        self.encoder.set_trainable(encoder_layers)
        self.connector.requires_grad_(connector)
        for n, p in self.llm.named_parameters():
            p.requires_grad_(lora and "lora_" in n)

    def audit(self) -> dict:
        out = {}
        for comp, params in self.component_parameters().items():
            out[comp] = {"trainable": sum(p.numel() for _, p in params if p.requires_grad),
                         "total": sum(p.numel() for _, p in params)}
        return out

    # -- inputs ---------------------------------------------------------------------------
    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def _embed_ids(self, ids: list[int]) -> torch.Tensor:
        emb = self.llm.get_input_embeddings()
        return emb(torch.tensor(ids, dtype=torch.long, device=emb.weight.device))

    def audio_embeddings(self, waves: torch.Tensor, lengths: torch.Tensor):
        hidden, flen = self.encoder(waves, lengths)
        return self.connector(hidden, flen)

    def build_inputs(self, waves, lengths, prompts: list[str], answers: list[str] | None = None):
        """Embeddings of [<s> prompt <speech>] audio [</speech> answer </s>].

        Training (answers given): right-padded, labels on the answer and </s> only.
        Generation (answers None): left-padded prompt ending at </speech>.
        """
        audio, alen = self.audio_embeddings(waves, lengths)
        bos, eos = self.tokenizer.bos_token_id, self.tokenizer.eos_token_id
        seqs, labels = [], []
        for i, prompt in enumerate(prompts):
            pre = ([bos] if bos is not None else []) + self._ids(prompt) + [self.speech_open]
            post = [self.speech_close]
            ans = (self._ids(answers[i]) + [eos]) if answers is not None else []
            seqs.append(torch.cat([self._embed_ids(pre), audio[i, : int(alen[i])],
                                   self._embed_ids(post + ans)]))
            labels.append([-100] * (len(pre) + int(alen[i]) + len(post)) + ans)
        width = max(s.shape[0] for s in seqs)
        d = seqs[0].shape[1]
        embeds = seqs[0].new_zeros(len(seqs), width, d)
        mask = torch.zeros(len(seqs), width, dtype=torch.long, device=embeds.device)
        lab = torch.full((len(seqs), width), -100, dtype=torch.long, device=embeds.device)
        for i, s in enumerate(seqs):
            n = s.shape[0]
            sl = slice(0, n) if answers is not None else slice(width - n, width)
            embeds[i, sl], mask[i, sl] = s, 1
            lab[i, sl] = torch.tensor(labels[i], device=embeds.device)
        return embeds, mask, lab

    def forward(self, waves, lengths, prompts, answers):
        embeds, mask, labels = self.build_inputs(waves, lengths, prompts, answers)
        return self.llm(inputs_embeds=embeds, attention_mask=mask, labels=labels).loss

    @torch.no_grad()
    def generate(self, waves, lengths, prompts, max_new_tokens: int = 48) -> list[str]:
        """Free greedy decoding from the prompt alone, with the KV cache."""
        embeds, mask, _ = self.build_inputs(waves, lengths, prompts, None)
        out = self.llm.generate(inputs_embeds=embeds, attention_mask=mask, do_sample=False,
                                max_new_tokens=max_new_tokens, use_cache=True,
                                eos_token_id=self.tokenizer.eos_token_id,
                                pad_token_id=self.tokenizer.pad_token_id)
        return self.tokenizer.batch_decode(out, skip_special_tokens=True)

    # -- save / load per component --------------------------------------------------------
    def save_components(self, ckpt: str | Path) -> None:
        ckpt = Path(ckpt)
        self.encoder.save_pretrained(ckpt / "encoder")
        self.connector.save_pretrained(ckpt / "connector")
        self.llm.save_pretrained(str(ckpt / "lora"))
        (ckpt / "trainable.json").write_text(json.dumps(self.audit(), indent=2) + "\n")

    @classmethod
    def assemble(cls, encoder_path, connector_path, lora_path, base_llm, tokenizer):
        """Build a model from three component directories (possibly of different runs)."""
        enc = SpeechEncoder.from_pretrained(SpeechEncoder.family_of(encoder_path), encoder_path)
        con = Connector.from_pretrained(connector_path)
        llm = load_lora(base_llm, lora_path, trainable=True)
        return cls(enc, con, llm, tokenizer)
