"""The SpeechLLM training loop: batched, accumulated, per-component learning rates,
warm-up + cosine schedule, early stopping on clean validation loss, seeded, resumable."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .data import SpeechDataset, bucket_batches, choose_fields, collate
from .lineage import atomic_path
from .models.speechllm import SpeechLLM


@dataclass
class TrainConfig:
    steps: int = 300
    batch_size: int = 16
    grad_accum: int = 1
    lr: dict = field(default_factory=lambda: {"encoder": 1e-4, "connector": 1e-3, "lora": 1e-3})
    warmup: int = 20
    weight_decay: float = 0.0
    eval_every: int = 50
    patience: int = 4            # evaluations without improvement before stopping
    min_delta: float = 1e-3      # a smaller fall of the validation loss is no improvement
    restore_best: bool = False   # end on the best-validation weights (else: the last ones)
    subset_prob: float = 0.5
    task_prompt_prob: float = 0.0  # a task run: share of prompts asking for its field alone
    grad_clip: float = 1.0
    save_every: int = 50         # resumable state every N steps
    seed: int = 0

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def _param_groups(model: SpeechLLM, lr: dict, wd: float):
    groups = []
    for comp, params in model.component_parameters().items():
        trainable = [p for _, p in params if p.requires_grad]
        if trainable:
            if comp not in lr:
                raise ValueError(f"train.lr: no learning rate for trainable component {comp!r}")
            groups.append({"params": trainable, "lr": float(lr[comp]), "name": comp,
                           "weight_decay": wd})
    if not groups:
        raise ValueError("nothing to train: every component is frozen")
    return groups


def _schedule(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


@torch.no_grad()
def validation_loss(model: SpeechLLM, ds: SpeechDataset, batch_size: int) -> float:
    was = model.training
    model.eval()
    total, n = 0.0, 0
    for idx in bucket_batches(ds.durations, batch_size, None):
        ex = [ds[i] for i in idx]
        w, l, p, a = collate(ex, [ds.fields] * len(ex))
        total += float(model(w, l, p, a)) * len(ex)
        n += len(ex)
    model.train(was)
    return total / max(n, 1)


def _trainable_state(model: SpeechLLM) -> dict:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def _save_state(state_dir: Path, model, opt, info: dict, best_state: dict | None) -> None:
    """Everything needed to resume, replaced as a whole (never half-written)."""
    with atomic_path(state_dir) as tmp:
        tmp.mkdir()
        torch.save(_trainable_state(model), tmp / "trainable.pt")
        torch.save(opt.state_dict(), tmp / "optimizer.pt")
        if best_state is not None:
            torch.save(best_state, tmp / "best.pt")
        (tmp / "trainer.json").write_text(json.dumps(info, indent=2))


def train(model: SpeechLLM, train_ds: SpeechDataset, val_ds: SpeechDataset, cfg: TrainConfig,
          state_dir: str | Path | None = None, desc: str = "train",
          probe=None, probe_every: int = 0, focus: str | None = None) -> dict:
    """Train in place until `steps` or early stopping (no fall of the clean validation loss
    by `min_delta` in `patience` evaluations); the model then holds the last weights, or the
    best-validation ones with `restore_best`.

    Returns the history (train loss per step, validation loss per evaluation). If
    `state_dir` holds a saved state from an interrupted run, training resumes from it and
    finishes exactly as an uninterrupted run would (same seed, CPU).

    `probe(model) -> dict`, if given, is measured before the first step and every
    `probe_every` steps (and at the end); the results go to history["probe"].

    `focus`: the field of the run's task, asked alone in a share `task_prompt_prob` of the
    training prompts (data.choose_fields); None for a run without a task (a clean model).
    """
    model.train()
    opt = torch.optim.AdamW(_param_groups(model, cfg.lr, cfg.weight_decay), betas=(0.9, 0.98))
    base_lrs = [g["lr"] for g in opt.param_groups]
    named = dict(model.named_parameters())
    hist = {"train_loss": [], "val": [], "config": asdict(cfg)}
    step, best, best_state, bad = 0, float("inf"), None, 0
    state_dir = Path(state_dir) if state_dir else None
    if state_dir and (state_dir / "trainer.json").exists():
        info = json.loads((state_dir / "trainer.json").read_text())
        for n, t in torch.load(state_dir / "trainable.pt", weights_only=True).items():
            named[n].data.copy_(t)
        opt.load_state_dict(torch.load(state_dir / "optimizer.pt", weights_only=True))
        step, best, bad, hist = info["step"], info["best"], info["bad"], info["hist"]
        if (state_dir / "best.pt").exists():
            best_state = torch.load(state_dir / "best.pt", weights_only=True)
    if probe is not None and "probe" not in hist:
        hist["probe"] = [{"step": 0, **probe(model)}]
    epoch_batches: list = []
    bar = tqdm(total=cfg.steps, initial=step, desc=desc, mininterval=5, leave=False)
    stopped = False
    while step < cfg.steps and not stopped:
        per_epoch = max(1, len(bucket_batches(train_ds.durations, cfg.batch_size, None)))
        epoch = step * cfg.grad_accum // per_epoch
        epoch_batches = bucket_batches(train_ds.durations, cfg.batch_size,
                                       np.random.default_rng([cfg.seed, epoch]))
        torch.manual_seed(cfg.seed * 1_000_003 + step)
        rng = np.random.default_rng([cfg.seed, 7, step])
        for g, base in zip(opt.param_groups, base_lrs):
            g["lr"] = base * _schedule(step, cfg)
        loss_sum = 0.0
        for k in range(cfg.grad_accum):
            idx = epoch_batches[(step * cfg.grad_accum + k) % per_epoch % len(epoch_batches)]
            ex = [train_ds[i] for i in idx]
            w, l, p, a = collate(ex, [choose_fields(train_ds.fields, rng, cfg.subset_prob,
                                                    focus, cfg.task_prompt_prob) for _ in ex])
            loss = model(w, l, p, a) / cfg.grad_accum
            loss.backward()
            loss_sum += loss.item()
        torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]],
                                       cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        hist["train_loss"].append(round(loss_sum, 5))
        bar.update(1)
        bar.set_postfix(loss=f"{loss_sum:.3f}")
        if step % cfg.eval_every == 0 or step == cfg.steps:
            v = validation_loss(model, val_ds, cfg.batch_size)
            hist["val"].append({"step": step, "loss": round(v, 5)})
            if v < best - cfg.min_delta:
                best, bad, best_state = v, 0, _trainable_state(model)
            else:
                bad += 1
                stopped = bad >= cfg.patience
        if probe is not None and (step % probe_every == 0 or stopped or step == cfg.steps):
            hist["probe"].append({"step": step, **probe(model)})
        if state_dir and (step % cfg.save_every == 0 or stopped or step == cfg.steps):
            _save_state(state_dir, model, opt,
                        {"step": step, "best": best, "bad": bad, "hist": hist}, best_state)
    bar.close()
    if cfg.restore_best and best_state is not None:
        for n, t in best_state.items():
            named[n].data.copy_(t)
    hist["best_val"] = best
    hist["steps_done"] = step
    hist["early_stopped"] = stopped
    return hist
