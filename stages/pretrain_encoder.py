"""Tiny profile: pretrain one small encoder of a family on the clean pretraining corpus.

    python stages/pretrain_encoder.py --family wavlm --train data/manifests/pretrain/train.csv \
        --dev data/manifests/pretrain/dev.csv --lexicon data/manifests/pretrain/lexicon.txt \
        --params JSON --seed N --out models/pretrained/encoder_wavlm

The encoder (without its pretraining heads) is saved with save_pretrained, so it loads
exactly as a public checkpoint does (WavLMModel.from_pretrained(...)).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # repo root, not stages/ (no shadowing)

from slm_backdoor.cli import json_arg, run_stage, seed_everything  # noqa: E402
from slm_backdoor.data import load_waves  # noqa: E402
from slm_backdoor.lineage import atomic_path, write_lineage  # noqa: E402
from slm_backdoor.manifest import read_manifest  # noqa: E402
from slm_backdoor.pretraining import pretrain_encoder  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for arg in ("--family", "--train", "--dev", "--lexicon", "--params", "--out"):
        ap.add_argument(arg, required=True)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    cfg = json_arg(a.params)
    seed_everything(a.seed, cfg.get("threads"))
    tr, dv = read_manifest(a.train, ), read_manifest(a.dev)
    lexicon = Path(a.lexicon).read_text().split()
    enc, hist = pretrain_encoder(a.family, tr, load_waves(tr, desc="train"), dv,
                                 load_waves(dv, desc="dev"), lexicon, cfg, a.seed)
    with atomic_path(a.out) as tmp:
        enc.save_pretrained(tmp)
        (tmp / "history.json").write_text(json.dumps(hist) + "\n")
    write_lineage(a.out, "pretrain_encoder", {"train": a.train, "dev": a.dev}, cfg,
                  extra={"family": a.family, "dev": hist["dev"][-1]})
    print(f"pretrain_encoder {a.family}: dev {hist['dev'][-1]} -> {a.out}")


if __name__ == "__main__":
    run_stage(main)
