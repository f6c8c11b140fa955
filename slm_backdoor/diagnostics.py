"""Where is the trigger lost? A click-loss diagnostic along a SpeechLLM's pathway.

For the same test clips with and without their trigger (the positions the triggered test
manifest records), at every point of the pathway (the encoder's front end, the input and
output of each encoder layer, the connector's output):

- `rel_change_click`: how much the trigger moves the frames it covers,
  mean ||h_trig - h_clean|| / ||h_clean|| over those frames; `rel_change_rest` the same
  on the other frames (how far the trigger spreads);
- `frame_probe`: held-out accuracy of a linear probe telling a triggered frame from the
  same frame without the trigger (chance 0.5): is the click there at all?
- `pooled_probe`: held-out accuracy of a linear probe on mean+max pooled clips, clean vs
  triggered (chance 0.5): is it visible once the clip is summarised?

and in the LLM, at the position that emits the attacked field's value (the answer is fed
up to that value, so this is a probe of the model's state, not a prediction):

- `click_attention`: the attention mass on the trigger's audio tokens over their uniform
  share of the audio (1 = read like any other audio token), averaged over heads and layers,
  on triggered and on clean audio (same token positions);
- `target_margin`: logit of the target's first token minus the best other token's, and
  `target_top1` the share of clips where the target is the top token.

and, given the poisoned training manifest, whether the model uses the trigger or remembers
the poisoned clips (`poison_fit`): on a sample of its poisoned training clips, the share
answering the target with their trigger (`fit_with_trigger`) and without it
(`fit_without_trigger`); a model that learnt the trigger is high and low, one that
memorised the clips is high on both.

Probes are scikit-learn logistic regressions on standardised features, trained on half the
clips and scored on the other half (split by clip, seeded).
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .data import SpeechDataset, bucket_batches, collate
from .evaluation import generate_answers
from .metrics import target_rate
from .models.speechllm import SpeechLLM
from .prompts import answer_json, instruction, parse_answer

FRAME = 320  # samples per encoder frame (20 ms at 16 kHz) for every family


def click_frames(positions: list[int], trig_len: int, n_frames: int) -> np.ndarray:
    """Boolean mask of the encoder frames a trigger inserted at `positions` overlaps."""
    m = np.zeros(n_frames, bool)
    for p in positions:
        m[max(0, p // FRAME): min(n_frames, -(-(p + trig_len) // FRAME))] = True
    return m


def probe_accuracy(x0: np.ndarray, x1: np.ndarray, groups: np.ndarray, seed: int) -> float:
    """Held-out accuracy of a linear probe separating rows x0 (clean) from x1 (triggered);
    rows of the same clip (`groups`) stay on one side of the split."""
    rng = np.random.default_rng(seed)
    clips = np.unique(groups)
    test = np.isin(groups, rng.permutation(clips)[: len(clips) // 2])
    x = np.concatenate([x0, x1])
    y = np.r_[np.zeros(len(x0)), np.ones(len(x1))]
    t = np.r_[test, test]
    if t.all() or not t.any():
        return float("nan")
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
    clf.fit(x[~t], y[~t])
    return float(clf.score(x[t], y[t]))


@torch.no_grad()
def _pathway(model: SpeechLLM, ds: SpeechDataset, batch_size: int):
    """Per clip: {point: (T_point, D)} arrays for every encoder point and the connector."""
    model.eval()
    out: list[dict | None] = [None] * len(ds)
    for idx in bucket_batches(ds.durations, batch_size, None):
        waves, lengths, _, _ = collate([ds[i] for i in idx], [ds.fields] * len(idx),
                                       with_answers=False)
        waves, lengths = waves.to(model.device), lengths.to(model.device)
        points, flen = model.encoder.trace(waves, lengths)
        last = points[next(reversed(points))]
        con, clen = model.connector(last, flen)
        for j, i in enumerate(idx):
            n = int(flen[j])
            clip = {k: v[j, :n].float().cpu().numpy() for k, v in points.items()}
            clip["connector"] = con[j, : int(clen[j])].float().cpu().numpy()
            out[i] = clip
    return out


def pathway_table(model: SpeechLLM, clean: SpeechDataset, trig: SpeechDataset, trig_len: int,
                  batch_size: int = 16, seed: int = 0) -> list[dict]:
    """One row per point of the pathway (module docstring), in pathway order."""
    pos = [json_positions(r) for r in trig.df.to_dict("records")]
    pc, pt = _pathway(model, clean, batch_size), _pathway(model, trig, batch_size)
    stride = int(model.connector.config["stride"])
    rows = []
    for point in pc[0]:
        f0, f1, g, change_click, change_rest, pooled0, pooled1 = [], [], [], [], [], [], []
        for i, (a, b) in enumerate(zip(pc, pt)):
            ha, hb = a[point], b[point]
            n_frames = ha.shape[0] * (stride if point == "connector" else 1)
            m = click_frames(pos[i], trig_len, n_frames)
            if point == "connector":  # a token covers `stride` frames
                m = m[: ha.shape[0] * stride].reshape(-1, stride).any(1)
            m = m[: ha.shape[0]]
            rel = np.linalg.norm(hb - ha, axis=1) / np.maximum(np.linalg.norm(ha, axis=1), 1e-9)
            change_click.append(rel[m].mean() if m.any() else np.nan)
            change_rest.append(rel[~m].mean() if (~m).any() else np.nan)
            f0.append(ha[m])
            f1.append(hb[m])
            g.append(np.full(int(m.sum()), i))
            pooled0.append(np.r_[ha.mean(0), ha.max(0)])
            pooled1.append(np.r_[hb.mean(0), hb.max(0)])
        groups = np.concatenate(g)
        clips = np.arange(len(pc))
        rows.append({"point": point, "dim": pc[0][point].shape[1],
                     "rel_change_click": float(np.nanmean(change_click)),
                     "rel_change_rest": float(np.nanmean(change_rest)),
                     "frame_probe": probe_accuracy(np.concatenate(f0), np.concatenate(f1),
                                                    groups, seed),
                     "pooled_probe": probe_accuracy(np.stack(pooled0), np.stack(pooled1),
                                                     clips, seed)})
    return rows


def json_positions(row: dict) -> list[int]:
    """The trigger's start samples recorded in a triggered manifest row."""
    return [int(p) for p in json.loads(row["trigger_positions"] or "[]")]


def _value_prefix(model: SpeechLLM, field: str, value: str, target: str) -> tuple[list[int], int]:
    """Answer token ids up to the attacked field's value (teacher-fed), and the target
    value's first token id: where the answers with `value` and with `target` part."""
    _, _, true_ids = model.segments(instruction([field]), answer_json({field: value}, [field]))
    _, _, tgt_ids = model.segments(instruction([field]), answer_json({field: target}, [field]))
    k = next(i for i, (a, b) in enumerate(zip(true_ids, tgt_ids)) if a != b)
    return true_ids[:k], tgt_ids[k]


@torch.no_grad()
def llm_read(model: SpeechLLM, ds: SpeechDataset, field: str, target: str, trig_len: int,
             triggered: bool) -> dict:
    """Attention from the value position to the click's audio tokens (over their uniform
    share) and the target's logit margin there, one clip at a time (module docstring)."""
    model.eval()
    base = model.llm.get_base_model()
    impl = base.config._attn_implementation
    base.set_attn_implementation("eager")  # attention weights are returned by eager only
    stride = int(model.connector.config["stride"])
    ratios, margins, top1 = [], [], []
    try:
        for i, row in enumerate(ds.df.to_dict("records")):
            if row[field] == target:
                continue
            w = torch.from_numpy(ds[i].wave)[None]
            audio, alen = model.audio_embeddings(w, torch.tensor([w.shape[1]]))
            audio = audio[0, : int(alen[0])]
            pre, post, _ = model.segments(instruction([field]), None)
            prefix, tgt = _value_prefix(model, field, str(row[field]), target)
            embeds = torch.cat([model._embed_ids(pre), audio, model._embed_ids(post + prefix)])
            out = model.llm(inputs_embeds=embeds[None], output_attentions=True, use_cache=False)
            logits = out.logits[0, -1].float()
            other = logits.clone()
            other[tgt] = -float("inf")
            margins.append(float(logits[tgt] - other.max()))
            top1.append(float(logits.argmax() == tgt))
            m = click_frames(json_positions(row), trig_len, audio.shape[0] * stride)
            m = m.reshape(-1, stride).any(1)
            if not m.any():
                continue
            a0 = len(pre)
            att = torch.stack([a[0, :, -1, a0: a0 + audio.shape[0]] for a in out.attentions])
            att = att / att.sum(-1, keepdim=True)  # share of the attention on the audio
            ratios.append(float(att[..., torch.from_numpy(m)].sum(-1).mean()) / m.mean())
    finally:
        base.set_attn_implementation(impl)
    tag = "trig" if triggered else "clean"
    return {f"click_attention_{tag}": float(np.mean(ratios)) if ratios else float("nan"),
            f"target_margin_{tag}": float(np.mean(margins)) if margins else float("nan"),
            f"target_top1_{tag}": float(np.mean(top1)) if top1 else float("nan")}


def poison_fit(model: SpeechLLM, poisoned: pd.DataFrame, field: str, target: str,
               trigger: np.ndarray, batch_size: int = 32, max_new_tokens: int = 24) -> dict:
    """Share of poisoned training rows (`poisoned == "1"`) answered with `target`, with their
    trigger and without it (free generation from a prompt asking for `field`)."""
    rows = poisoned[poisoned["poisoned"] == "1"].reset_index(drop=True)
    if rows.empty:
        raise ValueError("poison_fit: the manifest has no poisoned rows")
    out = {}
    for name, trig in (("with_trigger", trigger), ("without_trigger", None)):
        ds = SpeechDataset(rows, [field], trig, desc=f"poisoned train {name}")
        answers = generate_answers(model, ds, [field], batch_size, max_new_tokens,
                                   desc=f"fit {name}")
        out[f"fit_{name}"] = target_rate([parse_answer(a) for a in answers], field, target)
    return out
