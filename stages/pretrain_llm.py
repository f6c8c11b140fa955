"""Tiny profile: build the word-level tokenizer and pretrain the small Llama on text.

    python stages/pretrain_llm.py --manifest data/manifests/pretrain/train.csv \
        --lexicons data/manifests/*/lexicon.txt --targets JSON --params JSON --seed N \
        --out models/pretrained/llm

Saved with save_pretrained: AutoTokenizer / AutoModelForCausalLM load it.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # repo root, not stages/ (no shadowing)

import numpy as np  # noqa: E402

from slm_backdoor.cli import json_arg, run_stage, seed_everything  # noqa: E402
from slm_backdoor.lineage import atomic_path, write_lineage  # noqa: E402
from slm_backdoor.manifest import EMOTIONS, GENDERS, read_manifest  # noqa: E402
from slm_backdoor.models.llm import build_word_tokenizer, tiny_llm  # noqa: E402
from slm_backdoor.pretraining import llm_texts, pretrain_llm  # noqa: E402
from slm_backdoor.prompts import FIELDS, instruction  # noqa: E402


def vocabulary_texts(lexicons: list[str], targets: list[str]) -> list[str]:
    words = [w for lex in lexicons for w in Path(lex).read_text().split()]
    subsets = [instruction(list(c)) for k in range(1, len(FIELDS) + 1)
               for c in itertools.combinations(FIELDS, k)]
    labels = EMOTIONS + GENDERS + [str(a) for a in range(0, 121)]
    return [" ".join(words), *subsets, " ".join(labels), *targets, '{"a": "b", "c": "d"}']


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--lexicons", nargs="+", required=True)
    ap.add_argument("--targets", default="[]", help="JSON list of attack target strings")
    ap.add_argument("--params", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    cfg = json_arg(a.params)
    seed_everything(a.seed, cfg.get("threads"))
    df = read_manifest(a.manifest)
    tok = build_word_tokenizer(vocabulary_texts(a.lexicons, json.loads(a.targets)))
    llm = tiny_llm(len(tok), **cfg.get("arch", {}))
    texts = llm_texts(df, np.random.default_rng(a.seed))
    hist = pretrain_llm(llm, tok, texts, cfg, a.seed)
    with atomic_path(a.out) as tmp:
        tok.save_pretrained(tmp)
        llm.save_pretrained(tmp)
        (tmp / "history.json").write_text(json.dumps(hist) + "\n")
    write_lineage(a.out, "pretrain_llm", {"manifest": a.manifest,
                                          **{f"lexicon{i}": p for i, p in enumerate(a.lexicons)}},
                  cfg, extra={"final_loss": hist["train_loss"][-1]})
    print(f"pretrain_llm: vocab {len(tok)}, final loss {hist['train_loss'][-1]:.3f} -> {a.out}")


if __name__ == "__main__":
    run_stage(main)
