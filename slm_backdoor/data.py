"""From manifests to batches: audio cache, on-the-fly trigger insertion, prompts, bucketing."""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from .audio import AudioError, read_audio
from .prompts import FIELDS, answer_json, instruction
from .triggers import insert


def corpus_fields(df: pd.DataFrame) -> list[str]:
    """The label fields this corpus has (non-empty in every row)."""
    return [f for f in FIELDS if f in df.columns and (df[f] != "").all()]


def _where(row: dict, manifest: str | None) -> str:
    return f"{manifest or 'manifest'}, row id {row.get('id', '?')!r}"


def load_waves(df: pd.DataFrame, sr: int = 16000, desc: str = "audio") -> list[np.ndarray]:
    """The clips of a manifest, as the manifest promises them: mono at `sr` (never resampled
    or down-mixed silently). An AudioError names the clip, the manifest and the row."""
    waves = []
    for row in tqdm(df.to_dict("records"), desc=f"load {desc}", leave=False, mininterval=2):
        try:
            waves.append(read_audio(row["path"], sr=sr, resample=False, downmix=False))
        except AudioError as e:
            raise AudioError(f"{e} ({_where(row, df.attrs.get('manifest'))})") from None
    return waves


def apply_trigger(wave: np.ndarray, row, trigger: np.ndarray | None,
                  manifest: str | None = None) -> np.ndarray:
    """Insert the trigger at the positions the manifest row records (if any). A triggered row
    whose clip is shorter than the trigger is an error (its duration column was wrong)."""
    pos = row.get("trigger_positions", "") if hasattr(row, "get") else ""
    if trigger is None or not pos:
        return wave
    if len(wave) < len(trigger):
        raise AudioError(f"{row.get('path')}: clip of {len(wave)} samples is shorter than the "
                         f"trigger ({len(trigger)} samples) but must carry it "
                         f"({_where(row, manifest)})")
    return insert(wave, trigger, json.loads(pos), float(row["trigger_snr_db"])).astype(np.float32)


@dataclass
class Example:
    wave: np.ndarray
    labels: dict
    index: int


class SpeechDataset:
    """Rows of a (possibly poisoned) manifest with their audio held in memory.

    `fields`: the fields a prompt may ask for. With probability `subset_prob` a training
    prompt asks for a random non-empty subset of them (docs/DESIGN.md s1), else for all
    (see choose_fields for a task run's own field).
    """

    def __init__(self, df: pd.DataFrame, fields: list[str], trigger: np.ndarray | None = None,
                 sr: int = 16000, waves: list[np.ndarray] | None = None, desc: str = "audio"):
        self.df = df.reset_index(drop=True)
        self.fields, self.trigger = list(fields), trigger
        base = waves if waves is not None else load_waves(self.df, sr, desc)
        rows = self.df.to_dict("records")
        self.waves = [apply_trigger(w, r, trigger, self.df.attrs.get("manifest"))
                      for w, r in zip(base, rows)]
        self.labels = [{f: r[f] for f in self.fields} for r in rows]
        self.durations = np.array([len(w) for w in self.waves])

    def __len__(self) -> int:
        return len(self.waves)

    def __getitem__(self, i: int) -> Example:
        return Example(self.waves[i], self.labels[i], i)


def choose_fields(fields: list[str], rng: np.random.Generator, subset_prob: float,
                  focus: str | None = None, focus_prob: float = 0.0) -> list[str]:
    """A training prompt's fields. A task run (`focus`: its task's field) asks for that field
    alone with probability `focus_prob`, the prompt the evaluation asks; otherwise, and in a
    run without a task, a random subset with probability `subset_prob`, else all fields."""
    if focus is not None and focus_prob > 0:
        if focus not in fields:
            raise ValueError(f"task field {focus!r} is not among the prompt fields {fields}")
        if rng.random() < focus_prob:
            return [focus]
    if len(fields) > 1 and rng.random() < subset_prob:
        k = int(rng.integers(1, len(fields) + 1))
        pick = set(rng.choice(len(fields), size=k, replace=False).tolist())
        return [f for i, f in enumerate(fields) if i in pick]
    return list(fields)


def collate(examples: list[Example], prompt_fields: list[list[str]], with_answers: bool = True):
    lengths = torch.tensor([len(e.wave) for e in examples])
    waves = torch.zeros(len(examples), int(lengths.max()))
    for i, e in enumerate(examples):
        waves[i, : len(e.wave)] = torch.from_numpy(e.wave)
    prompts = [instruction(f) for f in prompt_fields]
    answers = ([answer_json(e.labels, f) for e, f in zip(examples, prompt_fields)]
               if with_answers else None)
    return waves, lengths, prompts, answers


def bucket_batches(durations: np.ndarray, batch_size: int, rng: np.random.Generator | None,
                   ) -> list[np.ndarray]:
    """Length bucketing: sort by duration (with jitter when shuffling), cut into batches,
    shuffle the batch order. rng None: deterministic order (evaluation)."""
    d = durations.astype(float)
    if rng is not None:
        d = d * rng.uniform(0.9, 1.1, size=len(d))
    order = np.argsort(d, kind="stable")
    batches = [order[i: i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches
