#!/usr/bin/env python
"""Where does a trained run lose the trigger? (slm_backdoor.diagnostics)

    .venv/bin/python scripts/click_diagnostic.py --model models/runs/wavlm/attack0_emotion \
        --llm models/pretrained/llm --triggered data/poisoned/emotion/test_triggered.csv \
        --trigger data/triggers/click.wav --task emotion --target angry \
        --out results/diagnostics/wavlm_attack0_emotion

writes OUT.csv and OUT.md (one row per point of the pathway: front end, each encoder layer,
connector; then the LLM's read of the click at the answer's value position; with
--poisoned-train, the share of poisoned training clips answered with the target with and
without their trigger) and OUT.png
(the probes and the relative change along the pathway). Any trigger and any run work.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # repo root, not scripts/

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from slm_backdoor.cli import run_stage, seed_everything  # noqa: E402
from slm_backdoor.data import SpeechDataset  # noqa: E402
from slm_backdoor.diagnostics import llm_read, pathway_table, poison_fit  # noqa: E402
from slm_backdoor.evaluation import sample_rows  # noqa: E402
from slm_backdoor.lineage import atomic_path  # noqa: E402
from slm_backdoor.manifest import read_manifest  # noqa: E402
from slm_backdoor.metrics import TASK_FIELD  # noqa: E402
from slm_backdoor.runs import build  # noqa: E402
from slm_backdoor.triggers import load_trigger  # noqa: E402


def figure(df: pd.DataFrame, llm: dict, title: str, out: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 3.6))
    x = range(len(df))
    ax.plot(x, df["frame_probe"], "o-", label="frame probe (acc)")
    ax.plot(x, df["pooled_probe"], "s-", label="pooled probe (acc)")
    ax.plot(x, df["rel_change_click"].clip(upper=1.5), "^--", label="rel. change, click frames")
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set_xticks(list(x), df["point"], rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.55)
    ax.set_title(f"{title}\nLLM: click attention x{llm['click_attention_trig']:.2f} "
                 f"(clean x{llm['click_attention_clean']:.2f}), target top-1 "
                 f"{llm['target_top1_trig']:.0%} (clean {llm['target_top1_clean']:.0%})",
                 fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    for arg in ("--model", "--llm", "--triggered", "--trigger", "--task", "--target", "--out"):
        ap.add_argument(arg, required=True)
    ap.add_argument("--clips", type=int, default=64, help="test clips used (seeded sample)")
    ap.add_argument("--poisoned-train", default=None,
                    help="the run's poisoned training manifest: also measure, on a seeded sample "
                         "of its poisoned rows (--clips), the share answering the target with "
                         "and without the trigger (uses the trigger, or remembers the clips?)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    if a.task not in TASK_FIELD:
        raise ValueError(f"--task: unknown task {a.task!r} (known: {', '.join(TASK_FIELD)})")
    seed_everything(a.seed)
    m = Path(a.model)
    model = build(a.llm, m / "encoder", m / "connector", m / "lora")
    field = TASK_FIELD[a.task]
    df = sample_rows(read_manifest(a.triggered), a.clips, a.seed)
    trigger = load_trigger(a.trigger)
    clean, trig = SpeechDataset(df, [field]), SpeechDataset(df, [field], trigger)
    rows = pathway_table(model, clean, trig, len(trigger), seed=a.seed)
    llm = {**llm_read(model, clean, field, a.target, len(trigger), triggered=False),
           **llm_read(model, trig, field, a.target, len(trigger), triggered=True)}
    if a.poisoned_train:
        train = read_manifest(a.poisoned_train)
        if "poisoned" not in train.columns or not (train["poisoned"] == "1").any():
            raise ValueError(f"{a.poisoned_train}: poisoned: no poisoned rows (not a poisoned "
                             f"training manifest)")
        llm.update(poison_fit(model, sample_rows(train[train["poisoned"] == "1"], a.clips,
                                                 a.seed), field, a.target, trigger))
    table = pd.DataFrame(rows)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out.with_suffix(".csv")) as tmp:
        table.assign(**{k: round(v, 4) for k, v in llm.items()}).round(4).to_csv(tmp, index=False)
    md = table.round(3).to_markdown(index=False) + "\n\n" + "\n".join(
        f"- {k}: {v:.3f}" for k, v in llm.items()) + "\n"
    with atomic_path(out.with_suffix(".md")) as tmp:
        tmp.write_text(f"# Click diagnostic: {a.model} ({a.task}, {len(df)} clips)\n\n{md}")
    figure(table, llm, f"{m.parent.name}/{m.name}, {a.task}", out.with_suffix(".png"))
    print(table.round(3).to_string(index=False))
    for k, v in llm.items():
        print(f"{k}: {v:.3f}")


if __name__ == "__main__":
    run_stage(main)
