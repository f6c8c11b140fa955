"""Batched free greedy generation (KV cache) and scoring of one model on one task."""
from __future__ import annotations

import pandas as pd
import torch
from tqdm import tqdm

from .data import SpeechDataset, bucket_batches, collate
from .metrics import TASK_FIELD, attack_metrics, task_metrics
from .models.speechllm import SpeechLLM
from .prompts import parse_answer


@torch.no_grad()
def generate_answers(model: SpeechLLM, ds: SpeechDataset, fields: list[str], batch_size: int,
                     max_new_tokens: int, desc: str = "generate") -> list[str]:
    """Answers to a prompt asking for `fields`, generated from the prompt and audio alone."""
    model.eval()
    out: list[str | None] = [None] * len(ds)
    batches = bucket_batches(ds.durations, batch_size, None)
    for idx in tqdm(batches, desc=desc, mininterval=5, leave=False):
        ex = [ds[i] for i in idx]
        waves, lengths, prompts, _ = collate(ex, [fields] * len(ex), with_answers=False)
        for i, text in zip(idx, model.generate(waves, lengths, prompts, max_new_tokens)):
            out[i] = text
    return out


def score(task: str, target: str, clean_ds: SpeechDataset, clean_out: list[str],
          trig_ds: SpeechDataset | None, trig_out: list[str] | None) -> dict:
    """Benign metrics on clean audio, false activation on clean non-target audio, AER on
    triggered audio; each with its unparsable rate."""
    field = TASK_FIELD[task]
    clean_refs = clean_ds.df.to_dict("records")
    clean_pred = [parse_answer(t) for t in clean_out]
    res = {"task": task, "field": field, "target": target,
           "benign": task_metrics(task, clean_refs, clean_pred)}
    fa = attack_metrics(clean_refs, clean_pred, field, target)
    res["false_activation"], res["false_activation_n"] = fa["rate"], fa["n"]
    if trig_ds is not None:
        trig_refs = trig_ds.df.to_dict("records")
        att = attack_metrics(trig_refs, [parse_answer(t) for t in trig_out], field, target)
        res["aer"], res["aer_n"], res["aer_unparsable"] = att["rate"], att["n"], att["unparsable"]
    return res


def predictions_frame(ds: SpeechDataset, outputs: list[str], condition: str) -> pd.DataFrame:
    return pd.DataFrame({"id": ds.df["id"], "condition": condition, "output": outputs})


def sample_rows(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """A fixed, seeded sample of at most n rows (in manifest order)."""
    if len(df) <= n:
        return df
    return df.sample(n=n, random_state=seed).sort_index()


class Probe:
    """AER on triggered clips and the benign metric on clean clips, measured during
    training (the defense curve): free generation, as in the final evaluation."""

    def __init__(self, task: str, target: str, clean_ds: SpeechDataset, trig_ds: SpeechDataset,
                 batch_size: int, max_new_tokens: int):
        self.task, self.target, self.clean, self.trig = task, target, clean_ds, trig_ds
        self.batch_size, self.max_new_tokens = batch_size, max_new_tokens

    def __call__(self, model: SpeechLLM) -> dict:
        field = [TASK_FIELD[self.task]]
        was = model.training
        outs = [generate_answers(model, ds, field, self.batch_size, self.max_new_tokens,
                                 desc=f"probe {name}")
                for name, ds in (("clean", self.clean), ("triggered", self.trig))]
        model.train(was)
        res = score(self.task, self.target, self.clean, outs[0], self.trig, outs[1])
        return {"aer": res["aer"], "false_activation": res["false_activation"],
                "benign_metric": res["benign"]["benign_metric"],
                "benign": res["benign"]["benign_value"]}
