"""Evaluate one trained run on one task: free greedy generation from the prompt alone.

    python stages/evaluate.py --model models/runs/wavlm/attack0_emotion --llm models/pretrained/llm \
        --task emotion --clean data/manifests/acted/test.csv \
        --triggered data/poisoned/emotion/test_triggered.csv --trigger data/triggers/click.wav \
        --target angry --params JSON --out results/metrics/wavlm/attack0_emotion/emotion.json

Writes the metrics JSON (benign metrics on clean audio, false activation on clean non-target
audio, AER on triggered audio, unparsable rates) and OUT with .csv: every generated answer.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # repo root, not stages/ (no shadowing)

import pandas as pd  # noqa: E402

from slm_backdoor.cli import StageError, json_arg, run_stage, seed_everything  # noqa: E402
from slm_backdoor.data import SpeechDataset  # noqa: E402
from slm_backdoor.evaluation import generate_answers, predictions_frame, score  # noqa: E402
from slm_backdoor.lineage import atomic_path, write_json_atomic, write_lineage  # noqa: E402
from slm_backdoor.manifest import read_manifest  # noqa: E402
from slm_backdoor.metrics import TASK_FIELD  # noqa: E402
from slm_backdoor.runs import build, place  # noqa: E402
from slm_backdoor.triggers import load_trigger  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for arg in ("--model", "--llm", "--task", "--clean", "--target", "--params", "--out"):
        ap.add_argument(arg, required=True)
    ap.add_argument("--triggered", default=None, help="triggered test manifest (omit: benign "
                                                      "metrics only, e.g. on another corpus)")
    ap.add_argument("--trigger", default=None)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    cfg = json_arg(a.params)
    if a.task not in TASK_FIELD:
        raise ValueError(f"--task: unknown task {a.task!r} (known: {', '.join(TASK_FIELD)})")
    seed_everything(a.seed, cfg.get("threads"))
    m = Path(a.model)
    model = place(build(a.llm, m / "encoder", m / "connector", m / "lora",
                        pins=cfg.get("checkpoints")), cfg)
    field = TASK_FIELD[a.task]
    clean = SpeechDataset(read_manifest(a.clean), [field], desc="clean")
    if a.triggered and not a.trigger:
        raise StageError("--triggered needs --trigger")
    trig = (SpeechDataset(read_manifest(a.triggered), [field], load_trigger(a.trigger),
                          desc="triggered") if a.triggered else None)
    bs, mx = int(cfg.get("batch_size", 32)), int(cfg.get("max_new_tokens", {}).get(a.task, 24))
    t0 = time.time()
    clean_out = generate_answers(model, clean, [field], bs, mx, desc=f"{a.task} clean")
    trig_out = (generate_answers(model, trig, [field], bs, mx, desc=f"{a.task} triggered")
                if trig else None)
    res = score(a.task, a.target, clean, clean_out, trig, trig_out)
    seconds = time.time() - t0  # logged, not in the metrics: they stay byte-reproducible
    res.update({"model": a.model, "clean_manifest": a.clean, "triggered_manifest": a.triggered})
    preds = pd.concat([predictions_frame(clean, clean_out, "clean")]
                      + ([predictions_frame(trig, trig_out, "triggered")] if trig else []))
    out = Path(a.out)
    with atomic_path(out.with_suffix(".csv")) as tmp:
        preds.to_csv(tmp, index=False)
    write_json_atomic(out, res)
    write_lineage(out, "evaluate", {"model": a.model, "clean": a.clean, "triggered": a.triggered,
                                    "trigger": a.trigger, "llm": a.llm}, cfg)
    b = res["benign"]
    value = "n/a" if b["benign_value"] is None else f"{b['benign_value']:.3f}"  # age: no numeric answer
    aer = "n/a" if res.get("aer") is None else f"{res['aer']:.3f}"
    print(f"evaluate {a.model} {a.task}: {b['benign_metric']}={value} "
          f"aer={aer} false_activation={res['false_activation']:.3f} ({seconds:.1f} s generating)")


if __name__ == "__main__":
    run_stage(main)
