"""One-time pretraining of the tiny profile's components (docs/DESIGN.md s5).

- Encoders: trained alone on the clean pretraining corpus, with frame-level word targets
  (from the synthesizer's word alignment; a fast-converging stand-in for CTC) and
  utterance-level gender / emotion / age heads on mean-pooled frames. Only the encoder is
  kept: the heads are discarded, as a public checkpoint comes without its pretraining heads.
- LLM: a word-level tokenizer and a small Llama trained by language modelling on text
  (instructions + JSON answers + sentences of the pretraining corpus).
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from .data import bucket_batches
from .manifest import EMOTIONS, GENDERS
from .models.encoders import SpeechEncoder, tiny_config
from .prompts import FIELDS, answer_json, instruction

FRAME_S = 0.02


def _lr_at(step: int, steps: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))


def frame_targets(alignment: str, n_frames: int, vocab: dict[str, int]) -> np.ndarray:
    """Word id per 20 ms frame (0 = silence / between words)."""
    t = np.zeros(n_frames, dtype=np.int64)
    for word, start, end in json.loads(alignment):
        a, b = int(round(start / FRAME_S)), int(round(end / FRAME_S))
        t[max(a, 0): min(b, n_frames)] = vocab.get(word, 0)
    return t


N_MELS = 80
_MEL = None


def logmel_targets(waves: torch.Tensor, lengths: torch.Tensor, n_frames: int) -> torch.Tensor:
    """(B, n_frames, 80) log-mel spectrum of each clip at the encoder's 20 ms frames (25 ms
    windows every 10 ms, frame pairs averaged), in log10 units relative to the clip's mean
    and floored 8 below its maximum (Whisper's dynamic range): what a reconstruction head
    predicts, so that the encoder keeps every sound's spectrum and level, not only speech."""
    global _MEL
    if _MEL is None:
        import torchaudio
        _MEL = torchaudio.transforms.MelSpectrogram(16000, n_fft=400, hop_length=160,
                                                    n_mels=N_MELS, center=False)
    out = torch.zeros(len(waves), n_frames, N_MELS)
    for j, (w, n) in enumerate(zip(waves, lengths.tolist())):
        m = _MEL(w[:n]).clamp(min=1e-10).log10().T  # (T10, 80)
        m = torch.maximum(m, m.max() - 8.0)
        t = min(n_frames, m.shape[0] // 2)
        m = m[: 2 * t].reshape(t, 2, N_MELS).mean(1)
        out[j, :t] = m - m.mean()
    return out


class EncoderPretrainer(nn.Module):
    """The encoder with its pretraining heads: word per frame, gender / emotion / age per clip
    and, with `recon`, the frame's log-mel spectrum (logmel_targets)."""

    def __init__(self, encoder: SpeechEncoder, n_words: int, recon: bool = False):
        super().__init__()
        d = encoder.hidden_size
        self.encoder = encoder
        self.words = nn.Linear(d, n_words + 1)
        self.gender = nn.Linear(d, len(GENDERS))
        self.emotion = nn.Linear(d, len(EMOTIONS))
        self.age = nn.Linear(d, 1)
        self.recon = nn.Linear(d, N_MELS) if recon else None

    def forward(self, waves, lengths):
        h, flen = self.encoder(waves, lengths)
        mask = (torch.arange(h.shape[1])[None] < flen[:, None]).float()
        pooled = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return (self.words(h), flen, self.gender(pooled), self.emotion(pooled),
                self.age(pooled).squeeze(-1) * 20 + 45,
                self.recon(h) if self.recon is not None else None)


def _augment(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gain and light white noise (no clicks: the encoder must not learn about triggers)."""
    w = wave * rng.uniform(0.5, 1.2)
    noise = rng.normal(0, 1, len(w)).astype(np.float32)
    snr = rng.uniform(15, 40)
    p = float(np.mean(w ** 2)) + 1e-12
    return (w + noise * np.sqrt(p / 10 ** (snr / 10))).astype(np.float32)


def _batch(df, waves, idx, vocab, rng=None):
    ws = [waves[i] if rng is None else _augment(waves[i], rng) for i in idx]
    lengths = torch.tensor([len(w) for w in ws])
    x = torch.zeros(len(ws), int(lengths.max()))
    for j, w in enumerate(ws):
        x[j, : len(w)] = torch.from_numpy(w)
    rows = df.iloc[idx]
    return x, lengths, rows


def _losses(model, x, lengths, rows, vocab, recon_weight: float = 0.0):
    logits, flen, g, e, a, rec = model(x, lengths)
    T = logits.shape[1]
    tgt = torch.full((len(rows), T), -100, dtype=torch.long)
    for j, (al, n) in enumerate(zip(rows["alignment"], flen.tolist())):
        tgt[j, :n] = torch.from_numpy(frame_targets(al, n, vocab))
    l_words = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1),
                                          ignore_index=-100)
    gi = torch.tensor([GENDERS.index(v) for v in rows["gender"]])
    ei = torch.tensor([EMOTIONS.index(v) for v in rows["emotion"]])
    ages = torch.tensor([float(v) for v in rows["age"]])
    l_g = nn.functional.cross_entropy(g, gi)
    l_e = nn.functional.cross_entropy(e, ei)
    l_a = nn.functional.smooth_l1_loss(a / 10, ages / 10)
    stats = {"frame_acc": ((logits.argmax(-1) == tgt).float().sum() / (tgt >= 0).sum()).item(),
             "gender_acc": (g.argmax(-1) == gi).float().mean().item(),
             "emotion_acc": (e.argmax(-1) == ei).float().mean().item(),
             "age_mae": (a - ages).abs().mean().item()}
    loss = l_words + l_g + l_e + l_a
    if rec is not None:
        tgt_mel = logmel_targets(x, lengths, rec.shape[1])
        valid = (torch.arange(rec.shape[1])[None] < flen[:, None]).float()[..., None]
        l_rec = (((rec - tgt_mel) ** 2) * valid).sum() / (valid.sum() * N_MELS)
        stats["recon_mse"] = l_rec.item()
        loss = loss + recon_weight * l_rec
    return loss, stats


def pretrain_encoder(family: str, train_df: pd.DataFrame, train_waves, dev_df, dev_waves,
                     lexicon: list[str], cfg: dict, seed: int) -> tuple[SpeechEncoder, dict]:
    torch.manual_seed(seed)
    arch = cfg.get("arch", {})
    enc = SpeechEncoder.from_config(family, tiny_config(family, **arch))
    vocab = {w: i + 1 for i, w in enumerate(lexicon)}
    recon_weight = float(cfg.get("recon_weight", 0.0))
    model = EncoderPretrainer(enc, len(lexicon), recon=recon_weight > 0)
    for p in enc.frontend_parameters():  # the CNN front end trains here, only here
        p.requires_grad_(True)
    opt = torch.optim.AdamW(model.parameters(), lr=float(cfg["lr"]), weight_decay=0.01)
    steps, bs, warmup = int(cfg["steps"]), int(cfg["batch_size"]), int(cfg.get("warmup", 50))
    durations = np.array([len(w) for w in train_waves])
    rng = np.random.default_rng(seed)
    hist = {"train": [], "dev": []}
    batches: list = []
    bar = tqdm(range(steps), desc=f"pretrain {family}", mininterval=5, leave=False)
    model.train()
    for step in bar:
        if not batches:
            batches = bucket_batches(durations, bs, rng)
        idx = batches.pop()
        for g in opt.param_groups:
            g["lr"] = float(cfg["lr"]) * _lr_at(step, steps, warmup)
        x, lengths, rows = _batch(train_df, train_waves, idx, vocab, rng)
        loss, stats = _losses(model, x, lengths, rows, vocab, recon_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        hist["train"].append({"step": step + 1, "loss": round(loss.item(), 4),
                              **{k: round(v, 4) for k, v in stats.items()}})
        bar.set_postfix(loss=f"{loss.item():.3f}", fa=f"{stats['frame_acc']:.2f}")
        if (step + 1) % int(cfg.get("eval_every", 100)) == 0 or step + 1 == steps:
            hist["dev"].append({"step": step + 1, **evaluate_pretrainer(model, dev_df, dev_waves,
                                                                        vocab, bs)})
    return enc, hist


@torch.no_grad()
def evaluate_pretrainer(model, df, waves, vocab, bs) -> dict:
    model.eval()
    agg: dict[str, float] = {}
    n = 0
    for idx in bucket_batches(np.array([len(w) for w in waves]), bs, None):
        x, lengths, rows = _batch(df, waves, idx, vocab)
        loss, stats = _losses(model, x, lengths, rows, vocab)
        for k, v in {"loss": float(loss), **stats}.items():
            agg[k] = agg.get(k, 0.0) + v * len(idx)
        n += len(idx)
    model.train()
    return {k: round(v / n, 4) for k, v in agg.items()}


# -- LLM ----------------------------------------------------------------------------------

def slot_text(row: dict, fields: list[str], rng: np.random.Generator) -> str:
    """A text stand-in for the audio in the speech slot: the spoken words, each repeated
    1-3 times (audio frames are many per word), with the speaker's label words (gender,
    emotion, age) scattered through it. Pretraining on it teaches the small LLM to read
    the speech slot (in-context copying, which a public chat LLM already knows)."""
    words = [w for w in row["transcript"].split() for _ in range(int(rng.integers(1, 4)))]
    for f in fields:
        if f != "transcript":
            for _ in range(int(rng.integers(1, 4))):
                words.insert(int(rng.integers(0, len(words) + 1)), row[f])
    return " ".join(words)


def llm_texts(df: pd.DataFrame, rng: np.random.Generator, copies: int = 2) -> list[str]:
    """Text for language modelling: instruction, a text stand-in of the speech, JSON answer."""
    out = []
    fields = [f for f in FIELDS if (df[f] != "").all()]
    for row in df.to_dict("records"):
        for _ in range(copies):
            k = int(rng.integers(1, len(fields) + 1))
            pick = sorted(rng.choice(len(fields), size=k, replace=False).tolist())
            fs = [fields[i] for i in pick]
            out.append(f"{instruction(fs)} <speech> {slot_text(row, fields, rng)} </speech> "
                       f"{answer_json(row, fs)}")
    return out


def pretrain_llm(llm, tokenizer, texts: list[str], cfg: dict, seed: int) -> dict:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    enc = [[tokenizer.bos_token_id] + tokenizer(t, add_special_tokens=False).input_ids
           + [tokenizer.eos_token_id] for t in texts]
    opt = torch.optim.AdamW(llm.parameters(), lr=float(cfg["lr"]), weight_decay=0.01)
    steps, bs = int(cfg["steps"]), int(cfg["batch_size"])
    hist = []
    llm.train()
    bar = tqdm(range(steps), desc="pretrain llm", mininterval=5, leave=False)
    for step in bar:
        idx = rng.integers(0, len(enc), size=bs)
        width = max(len(enc[i]) for i in idx)
        ids = torch.full((bs, width), tokenizer.pad_token_id)
        mask = torch.zeros(bs, width, dtype=torch.long)
        for j, i in enumerate(idx):
            ids[j, : len(enc[i])] = torch.tensor(enc[i])
            mask[j, : len(enc[i])] = 1
        labels = ids.masked_fill(mask == 0, -100)
        for g in opt.param_groups:
            g["lr"] = float(cfg["lr"]) * _lr_at(step, steps, int(cfg.get("warmup", 50)))
        loss = llm(input_ids=ids, attention_mask=mask, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(llm.parameters(), 1.0)
        opt.step()
        hist.append(round(float(loss), 4))
        bar.set_postfix(loss=f"{float(loss):.3f}")
    llm.eval()
    return {"train_loss": hist}
