"""GPU check of the paper profile's model size (a script, not a test: needs CUDA).

    .venv/bin/python scripts/gpu_check.py [--steps 300] [--batch-size 8] [--seconds 8]

Builds a paper-size SpeechLLM at random initialisation, without any download: a WavLM
encoder with microsoft/wavlm-large's configuration (24 layers, hidden 1024, the stock
7-layer CNN) and a Llama with TinyLlama-1.1B's configuration (22 layers, hidden 2048),
the stride-2 connector and a LoRA (r=8, alpha=16, dropout 0.05, all linear layers); the
top 15 encoder layers, the connector and the LoRA train, with bf16 autocast and (unless
--no-gradient-checkpointing) gradient checkpointing, as the paper profile does.

Trains --steps steps at --batch-size on random clips of --seconds, then the same number
of steps one clip at a time, in the same run, and prints for each the clips per second
and the peak GPU memory (torch.cuda.max_memory_allocated), then the two ratios.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

import torch  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM, WavLMConfig  # noqa: E402

from slm_backdoor.models.connector import Connector  # noqa: E402
from slm_backdoor.models.encoders import SpeechEncoder  # noqa: E402
from slm_backdoor.models.llm import (TINYLLAMA_CHAT_TEMPLATE, add_lora,  # noqa: E402
                                     build_word_tokenizer, lora_config)
from slm_backdoor.models.speechllm import SpeechLLM  # noqa: E402
from slm_backdoor.prompts import FIELDS, answer_json, instruction  # noqa: E402
from slm_backdoor.runs import place  # noqa: E402

NO_CUDA = ("gpu_check: needs a CUDA GPU (torch.cuda.is_available() is False); run it on "
           "the GPU machine")
# microsoft/wavlm-large and TinyLlama/TinyLlama-1.1B-Chat-v1.0 (their config.json).
WAVLM_LARGE = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                   intermediate_size=4096, feat_extract_norm="layer", do_stable_layer_norm=True,
                   conv_bias=False, num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16,
                   num_buckets=320, max_bucket_distance=800, mask_time_prob=0.0)
TINYLLAMA = dict(vocab_size=32000, hidden_size=2048, intermediate_size=5632,
                 num_hidden_layers=22, num_attention_heads=32, num_key_value_heads=4,
                 max_position_embeddings=2048, rms_norm_eps=1e-5, tie_word_embeddings=False)
LABELS = {"transcript": "he hoped there would be stew for dinner turnips and carrots and "
                        "bruised potatoes and fat mutton pieces",
          "gender": "female", "emotion": "sad", "age": "31"}


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300, help="steps of each loop (default 300)")
    ap.add_argument("--batch-size", type=int, default=8, help="batched loop (default 8)")
    ap.add_argument("--seconds", type=float, default=8.0, help="clip length (default 8 s)")
    ap.add_argument("--no-gradient-checkpointing", dest="gradient_checkpointing",
                    action="store_false")
    a = ap.parse_args(argv)
    if a.steps < 1 or a.batch_size < 1 or a.seconds <= 0:
        ap.error("--steps and --batch-size must be positive integers, --seconds positive")
    return a


def paper_size_model(gradient_checkpointing: bool) -> SpeechLLM:
    tok = build_word_tokenizer([instruction(FIELDS), answer_json(LABELS, FIELDS)])
    tok.chat_template = TINYLLAMA_CHAT_TEMPLATE  # the paper LLM's prompt format
    with torch.device("cuda"):
        enc = SpeechEncoder.from_config("wavlm", WavLMConfig(**WAVLM_LARGE))
        llm = LlamaForCausalLM(LlamaConfig(**TINYLLAMA, bos_token_id=tok.bos_token_id,
                                           eos_token_id=tok.eos_token_id))
        con = Connector(enc.hidden_size, llm.config.hidden_size, stride=2)
    llm.requires_grad_(False)
    model = SpeechLLM(enc, con, add_lora(llm, lora_config(8, 16, 0.05)), tok)
    model.set_trainable(15, True, True)
    return place(model, {"device": "cuda", "bf16": True,
                         "gradient_checkpointing": gradient_checkpointing})


def train_loop(model: SpeechLLM, opt, steps: int, batch_size: int, seconds: float) -> dict:
    """Clips per second and peak GPU memory of `steps` training steps."""
    n = int(seconds * 16000)
    prompts = [instruction(FIELDS)] * batch_size
    answers = [answer_json(LABELS, FIELDS)] * batch_size

    def step():
        waves = torch.randn(batch_size, n, device="cuda") * 0.1
        lengths = torch.full((batch_size,), n, device="cuda")
        model(waves, lengths, prompts, answers).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(3):  # warm-up (kernels, allocator)
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return {"clips_per_s": steps * batch_size / (time.perf_counter() - t),
            "peak_gb": torch.cuda.max_memory_allocated() / 2**30}


def main(argv=None) -> None:
    a = parse_args(argv)
    if not torch.cuda.is_available():
        sys.exit(NO_CUDA)
    torch.manual_seed(0)
    model = paper_size_model(a.gradient_checkpointing)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    print(f"{torch.cuda.get_device_name()}: {a.steps} steps, clips of {a.seconds:g} s, bf16, "
          f"gradient checkpointing {'on' if a.gradient_checkpointing else 'off'}", flush=True)
    batched = train_loop(model, opt, a.steps, a.batch_size, a.seconds)
    single = train_loop(model, opt, a.steps, 1, a.seconds)
    for name, r in ((f"batch {a.batch_size}", batched), ("batch 1", single)):
        print(f"{name:>9}: {r['clips_per_s']:8.2f} clips/s  "
              f"peak GPU memory {r['peak_gb']:6.2f} GiB")
    print(f"ratio (batch {a.batch_size} / batch 1): throughput "
          f"{batched['clips_per_s'] / single['clips_per_s']:.2f}x, "
          f"peak memory {batched['peak_gb'] / single['peak_gb']:.2f}x")


if __name__ == "__main__":
    main()
