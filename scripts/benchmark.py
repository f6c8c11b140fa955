"""Throughput benchmark on one tiny SpeechLLM (a script, not a test: timings are noisy).

    .venv/bin/python scripts/benchmark.py [--clips 64] [--threads 1] [--llm models/pretrained/llm]

Measures, in one run and on the same model and clips:
  training:   batched steps (batch 16, padded, length-bucketed) vs a batch-size-1 loop;
  evaluation: batched greedy generation with the KV cache vs one clip at a time;
and prints clips per second for each and the two speed-up ratios.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from slm_backdoor.cli import seed_everything  # noqa: E402
from slm_backdoor.data import SpeechDataset, bucket_batches, collate  # noqa: E402
from slm_backdoor.evaluation import generate_answers  # noqa: E402
from slm_backdoor.models.encoders import SpeechEncoder, tiny_config  # noqa: E402
from slm_backdoor.models.llm import build_word_tokenizer, tiny_llm  # noqa: E402
from slm_backdoor.prompts import FIELDS, instruction  # noqa: E402
from slm_backdoor.runs import build  # noqa: E402


def toy_clips(n: int, rng) -> tuple[pd.DataFrame, list[np.ndarray]]:
    rows, waves = [], []
    for i in range(n):
        waves.append(rng.normal(0, 0.1, int(rng.uniform(1.0, 2.5) * 16000)).astype(np.float32))
        rows.append({"id": str(i), "path": "", "duration": "", "speaker": "s", "dataset": "bench",
                     "split": "test", "transcript": "the cat sat on the mat",
                     "gender": "female", "age": "31", "emotion": "sad"})
    return pd.DataFrame(rows), waves


def make_llm(path: Path) -> Path:
    texts = [instruction(FIELDS), '{"transcript": "the cat sat on the mat", "gender": "female", '
             '"emotion": "sad", "age": "31"} male angry 0 1 2 3 4 5 6 7 8 9']
    tok = build_word_tokenizer(texts)
    tok.save_pretrained(path)
    tiny_llm(len(tok), hidden=128, layers=4, heads=4, ffn=384).save_pretrained(path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clips", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--llm", default=None, help="a pretrained LLM dir (default: a fresh tiny one)")
    a = ap.parse_args()
    seed_everything(0, a.threads)
    tmp = Path(tempfile.mkdtemp())
    llm = Path(a.llm) if a.llm else make_llm(tmp / "llm")
    SpeechEncoder.from_config("wavlm", tiny_config("wavlm")).save_pretrained(tmp / "enc")
    model = build(llm, tmp / "enc", "fresh", "fresh", {"dropout": 0.0})
    model.set_trainable(3, True, True)
    df, waves = toy_clips(a.clips, np.random.default_rng(0))
    ds = SpeechDataset(df, FIELDS, waves=waves)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def train_pass(bs: int) -> float:
        t = time.perf_counter()
        for idx in bucket_batches(ds.durations, bs, np.random.default_rng(1)):
            ex = [ds[i] for i in idx]
            loss = model(*collate(ex, [FIELDS] * len(ex)))
            loss.backward()
            opt.step()
            opt.zero_grad()
        return a.clips / (time.perf_counter() - t)

    def eval_pass(bs: int) -> float:
        t = time.perf_counter()
        generate_answers(model, ds, ["transcript"], bs, 24, desc=f"generate bs={bs}")
        return a.clips / (time.perf_counter() - t)

    model.train()
    train_pass(16)  # warm-up
    tb, t1 = train_pass(16), train_pass(1)
    eval_pass(16)
    eb, e1 = eval_pass(16), eval_pass(1)
    print(f"clips={a.clips} threads={a.threads}")
    print(f"training:   batched (16) {tb:7.1f} clips/s | batch-size-1 loop {t1:7.1f} clips/s "
          f"| ratio {tb / t1:5.2f}x")
    print(f"evaluation: batched+KV (16) {eb:7.1f} clips/s | one clip at a time {e1:7.1f} clips/s "
          f"| ratio {eb / e1:5.2f}x")


if __name__ == "__main__":
    main()
