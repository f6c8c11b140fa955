"""The LLM side: tokenizer, causal LM (AutoModelForCausalLM) and its peft LoRA adapter.

Tiny profile: a word-level tokenizer and a small Llama built here and pretrained on text.
Paper profile: `from_pretrained` of TinyLlama with its own tokenizer and chat template (the
speech delimiters are then plain text: no new embeddings for a frozen LLM). Both load with
`AutoTokenizer` / `AutoModelForCausalLM`; the LoRA adapter saves with peft's `save_pretrained`.
"""
from __future__ import annotations

from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
from transformers import (AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM,
                          PreTrainedTokenizerFast)

from ..prompts import SPEECH_CLOSE, SPEECH_OPEN

SPECIAL = {"pad_token": "<pad>", "unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>"}
SPEECH_TOKENS = [SPEECH_OPEN, SPEECH_CLOSE]  # special tokens of the tiny word-level tokenizer

# TinyLlama-1.1B-Chat-v1.0's chat template (Zephyr style), for Llama-style tokenizers made
# here without a download (tests, scripts/gpu_check.py).
TINYLLAMA_CHAT_TEMPLATE = (
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n"
    "{{ '<|user|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'system' %}\n"
    "{{ '<|system|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'assistant' %}\n"
    "{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n"
    "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n"
    "{% endfor %}")


def build_word_tokenizer(texts: list[str]) -> PreTrainedTokenizerFast:
    """A word-level tokenizer over the words of `texts`: every punctuation mark is its own
    token and numbers are spelt digit by digit ("31" -> "3", "##1"), as Llama's tokenizer
    does, so any age can be written and decoded back to "31"."""
    pre = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                   pre_tokenizers.Punctuation("isolated")])
    words = {w.lower() for t in texts for w, _ in pre.pre_tokenize_str(t) if not w.isdigit()}
    digits = [str(d) for d in range(10)]
    vocab = list(SPECIAL.values()) + SPEECH_TOKENS + digits + [f"##{d}" for d in digits]
    vocab += sorted(words - set(vocab))
    tok = Tokenizer(models.WordPiece({w: i for i, w in enumerate(vocab)},
                                     unk_token=SPECIAL["unk_token"]))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre
    tok.decoder = decoders.WordPiece(cleanup=False)
    return PreTrainedTokenizerFast(tokenizer_object=tok, additional_special_tokens=SPEECH_TOKENS,
                                   **SPECIAL)


def load_tokenizer(name_or_path: str | Path):
    """The LLM's own tokenizer, unchanged (a public LLM's speech delimiters are plain text)."""
    tok = AutoTokenizer.from_pretrained(name_or_path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def tiny_llm(vocab_size: int, hidden: int = 192, layers: int = 4, heads: int = 4,
             ffn: int = 512, max_positions: int = 512) -> LlamaForCausalLM:
    cfg = LlamaConfig(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=ffn,
                      num_hidden_layers=layers, num_attention_heads=heads,
                      num_key_value_heads=heads, max_position_embeddings=max_positions,
                      tie_word_embeddings=True, pad_token_id=0, bos_token_id=2, eos_token_id=3)
    return LlamaForCausalLM(cfg)


def load_llm(name_or_path: str | Path, tokenizer=None, dtype=torch.float32):
    """fp32 weights whatever the checkpoint's dtype (bf16 comes from autocast on GPU)."""
    model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=dtype)
    if tokenizer is not None and len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer))
    return model


def lora_config(r: int = 8, alpha: int = 16, dropout: float = 0.05) -> LoraConfig:
    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout,
                      target_modules="all-linear", task_type="CAUSAL_LM")


def _sorted_targets(peft_model):
    """peft resolves target_modules to a set, which it saves in the order of Python's
    per-process string hashing: sorted, a saved adapter has the same bytes in every run."""
    for cfg in peft_model.peft_config.values():
        if isinstance(cfg.target_modules, set):
            cfg.target_modules = sorted(cfg.target_modules)
    return peft_model


def add_lora(model, cfg: LoraConfig):
    return _sorted_targets(get_peft_model(model, cfg))


def load_lora(model, path: str | Path, trainable: bool = True):
    return _sorted_targets(PeftModel.from_pretrained(model, path, is_trainable=trainable))
