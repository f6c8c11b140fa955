"""T4: can clean and triggered clips be told apart in a model's representations?

    python stages/separability.py --model models/runs/wavlm/attack0_emotion \
        --llm models/pretrained/llm --triggered data/poisoned/emotion/test_triggered.csv \
        --trigger data/triggers/click.wav --params JSON --seed N \
        --out results/separability/wavlm/attack0_emotion/emotion.json \
        --figure results/figures/T4_tsne/wavlm_attack0_emotion.png

The clips of the triggered test manifest, each with and without its trigger, through the
encoder and the connector; mean-pooled embeddings -> paired cosine similarity, PCA +
k-means activation clustering (precision / recall of the best cluster at isolating the
triggered clips, for each k), and a t-SNE figure of both layers.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # repo root, not stages/ (no shadowing)

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from slm_backdoor.analysis import LAYERS, pooled_embeddings, separability, tsne_2d  # noqa: E402
from slm_backdoor.cli import json_arg, run_stage, seed_everything  # noqa: E402
from slm_backdoor.data import SpeechDataset, corpus_fields  # noqa: E402
from slm_backdoor.lineage import atomic_path, write_json_atomic, write_lineage  # noqa: E402
from slm_backdoor.manifest import read_manifest  # noqa: E402
from slm_backdoor.runs import build, place  # noqa: E402
from slm_backdoor.triggers import load_trigger  # noqa: E402


def tsne_figure(clean: dict, trig: dict, perplexity: float, seed: int, title: str, out: Path):
    fig, axes = plt.subplots(1, len(LAYERS), figsize=(9, 4))
    for ax, layer in zip(axes, LAYERS):
        xy = tsne_2d(np.concatenate([clean[layer], trig[layer]]), perplexity, seed)
        n = len(clean[layer])
        ax.scatter(*xy[:n].T, s=8, alpha=0.7, label="clean")
        ax.scatter(*xy[n:].T, s=8, alpha=0.7, label="triggered")
        ax.set_title(f"{layer} output")
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].legend(loc="best", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for arg in ("--model", "--llm", "--triggered", "--trigger", "--params", "--out", "--figure"):
        ap.add_argument(arg, required=True)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    cfg = json_arg(a.params)
    seed_everything(a.seed, cfg.get("threads"))
    m = Path(a.model)
    model = place(build(a.llm, m / "encoder", m / "connector", m / "lora",
                        pins=cfg.get("checkpoints")), cfg)
    df = read_manifest(a.triggered)
    fields = corpus_fields(df)[:1] or ["transcript"]  # prompts are not used: audio side only
    bs = int(cfg.get("batch_size", 32))
    clean = pooled_embeddings(model, SpeechDataset(df, fields, None, desc="clean"), bs)
    trig = pooled_embeddings(model, SpeechDataset(df, fields, load_trigger(a.trigger),
                                                  desc="triggered"), bs)
    res = {"model": a.model, "triggered_manifest": a.triggered, "n_clips": len(df),
           **separability(clean, trig, [int(k) for k in cfg["k"]], int(cfg["pca_components"]),
                          a.seed)}
    out, fig = Path(a.out), Path(a.figure)
    tsne_figure(clean, trig, float(cfg.get("tsne_perplexity", 30)), a.seed,
                f"{m.parent.name} {m.name}: clean vs triggered test clips (t-SNE)", fig)
    write_json_atomic(out, res)
    inputs = {"model": a.model, "triggered": a.triggered, "trigger": a.trigger, "llm": a.llm}
    for path in (out, fig):
        write_lineage(path, "separability", inputs, cfg)
    e, c = res["encoder"], res["connector"]
    print(f"separability {a.model}: cosine encoder {e['cosine']:.3f} connector {c['cosine']:.3f}")


if __name__ == "__main__":
    run_stage(main)
