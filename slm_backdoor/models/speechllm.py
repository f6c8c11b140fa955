"""The SpeechLLM composite: encoder -> connector -> LLM (frozen) + LoRA -> text.

Each component is saved on its own under a checkpoint directory:
    <ckpt>/encoder/    transformers save_pretrained (+ Whisper feature extractor)
    <ckpt>/connector/  safetensors + JSON config
    <ckpt>/lora/       peft save_pretrained (adapter only; the base LLM is referenced)
(a trained run adds trainable.json, the audit of trainable parameters per component, and
its history and sources: runs.save_run).

The prompt: the tiny LLM's word-level tokenizer has no chat template: [<s> instruction
<speech>] audio [</speech> answer </s>], the delimiters its own special tokens. A public
chat LLM (TinyLlama): its own chat template (prompts.chat_prompt), delimiters as plain text.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import torch
from torch import nn

from ..prompts import SPEECH_CLOSE, SPEECH_OPEN, chat_prompt
from .connector import Connector
from .encoders import SpeechEncoder

COMPONENTS = ("encoder", "connector", "lora")


class SpeechLLM(nn.Module):
    def __init__(self, encoder: SpeechEncoder, connector: Connector, llm, tokenizer):
        super().__init__()
        self.encoder, self.connector, self.llm, self.tokenizer = encoder, connector, llm, tokenizer
        self.bf16 = False  # bf16 autocast, on CUDA only (runs.place)

    # -- device, precision, memory ------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.connector.parameters()).device

    def autocast(self):
        """bf16 autocast on CUDA when asked; on CPU nothing (plain fp32, bit-identical)."""
        if self.bf16 and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def enable_gradient_checkpointing(self) -> None:
        """Recompute encoder and LLM layer activations in the backward pass (less memory)."""
        kw = {"activation_checkpointing_kwargs": {"use_reentrant": False}}
        self.encoder.model.activation_checkpointing_enable(**kw)
        self.llm.activation_checkpointing_enable(**kw)  # peft passes it to the base LLM

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

    def audio_layers(self, waves: torch.Tensor, lengths: torch.Tensor):
        """((encoder output, frame lengths), (connector output, lengths)) of a batch, which
        is moved to the model's device."""
        waves, lengths = waves.to(self.device), lengths.to(self.device)
        with self.autocast():
            hidden, flen = self.encoder(waves, lengths)
            return (hidden, flen), self.connector(hidden, flen)

    def audio_embeddings(self, waves: torch.Tensor, lengths: torch.Tensor):
        return self.audio_layers(waves, lengths)[1]

    def _render(self, messages: list[dict], add_generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False,
                                                  add_generation_prompt=add_generation_prompt)

    def segments(self, prompt: str, answer: str | None = None):
        """Token ids before the audio, after it, and of the answer (labelled; [] when
        generating)."""
        tok = self.tokenizer
        if tok.chat_template:  # a chat LLM: its own template, plain-text delimiters
            before, after, ans = chat_prompt(self._render, prompt, answer)
            pre = self._ids(before)
            if tok.bos_token and not before.startswith(tok.bos_token):  # as tokenizer(text) does
                pre = [tok.bos_token_id] + pre
            return pre, self._ids(after), self._ids(ans)
        bos = [tok.bos_token_id] if tok.bos_token_id is not None else []
        ans = self._ids(answer) + [tok.eos_token_id] if answer is not None else []
        return bos + self._ids(prompt) + self._ids(SPEECH_OPEN), self._ids(SPEECH_CLOSE), ans

    def build_inputs(self, waves, lengths, prompts: list[str], answers: list[str] | None = None):
        """Embeddings of [prompt up to the audio] audio [rest of the prompt, answer] (see
        `segments`).

        Training (answers given): right-padded, labels on the answer (and end of turn) only.
        Generation (answers None): left-padded prompt ending where the answer starts.
        """
        audio, alen = self.audio_embeddings(waves, lengths)
        seqs, labels = [], []
        for i, prompt in enumerate(prompts):
            pre, post, ans = self.segments(prompt, answers[i] if answers is not None else None)
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
        with self.autocast():
            embeds, mask, labels = self.build_inputs(waves, lengths, prompts, answers)
            return self.llm(inputs_embeds=embeds, attention_mask=mask, labels=labels,
                            use_cache=False).loss  # no KV cache to keep when training

    @torch.no_grad()
    def generate(self, waves, lengths, prompts, max_new_tokens: int = 48) -> list[str]:
        """Free greedy decoding from the prompt alone, with the KV cache."""
        with self.autocast():
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
