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

from slm_backdoor.audio import read_audio  # noqa: E402
from slm_backdoor.cli import json_arg, run_stage, seed_everything  # noqa: E402
from slm_backdoor.data import SpeechDataset  # noqa: E402
from slm_backdoor.evaluation import generate_answers, predictions_frame, score  # noqa: E402
from slm_backdoor.lineage import atomic_path, write_json_atomic, write_lineage  # noqa: E402
from slm_backdoor.manifest import read_manifest  # noqa: E402
from slm_backdoor.metrics import TASK_FIELD  # noqa: E402
from slm_backdoor.runs import build  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for arg in ("--model", "--llm", "--task", "--clean", "--triggered", "--trigger", "--target",
                "--params", "--out"):
        ap.add_argument(arg, required=True)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    cfg = json_arg(a.params)
    if a.task not in TASK_FIELD:
        raise ValueError(f"--task: unknown task {a.task!r} (known: {', '.join(TASK_FIELD)})")
    seed_everything(a.seed, cfg.get("threads"))
    m = Path(a.model)
    model = build(a.llm, m / "encoder", m / "connector", m / "lora")
    field = TASK_FIELD[a.task]
    clean = SpeechDataset(read_manifest(a.clean), [field], desc="clean")
    trig = SpeechDataset(read_manifest(a.triggered), [field], read_audio(a.trigger),
                         desc="triggered")
    bs, mx = int(cfg.get("batch_size", 32)), int(cfg.get("max_new_tokens", {}).get(a.task, 24))
    t0 = time.time()
    clean_out = generate_answers(model, clean, [field], bs, mx, desc=f"{a.task} clean")
    trig_out = generate_answers(model, trig, [field], bs, mx, desc=f"{a.task} triggered")
    res = score(a.task, a.target, clean, clean_out, trig, trig_out)
    res.update({"model": a.model, "clean_manifest": a.clean, "triggered_manifest": a.triggered,
                "generation_seconds": round(time.time() - t0, 2)})
    preds = pd.concat([predictions_frame(clean, clean_out, "clean"),
                       predictions_frame(trig, trig_out, "triggered")])
    out = Path(a.out)
    with atomic_path(out.with_suffix(".csv")) as tmp:
        preds.to_csv(tmp, index=False)
    write_json_atomic(out, res)
    write_lineage(out, "evaluate", {"model": a.model, "clean": a.clean, "triggered": a.triggered,
                                    "trigger": a.trigger, "llm": a.llm}, cfg)
    b = res["benign"]
    value = "n/a" if b["benign_value"] is None else f"{b['benign_value']:.3f}"  # age: no numeric answer
    print(f"evaluate {a.model} {a.task}: {b['benign_metric']}={value} "
          f"aer={res['aer']:.3f} false_activation={res['false_activation']:.3f}")


if __name__ == "__main__":
    run_stage(main)
