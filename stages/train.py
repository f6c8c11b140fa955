"""Train one SpeechLLM run: each component from a source directory or fresh, each trained or
frozen, on a (possibly poisoned) training manifest; early stopping on clean dev loss.

    python stages/train.py --llm models/pretrained/llm \
        --encoder models/pretrained/encoder_wavlm --connector models/align/wavlm/connector \
        --lora models/align/wavlm/lora --train-encoder 2 --train-connector 1 --train-lora 1 \
        --train-manifest data/poisoned/emotion/train.csv --dev-manifest data/manifests/acted/dev.csv \
        --trigger data/triggers/click.wav --params JSON --seed N --out models/runs/wavlm/attack0_emotion

Writes OUT/{encoder,connector,lora}/ (each loadable on its own), trainable.json (the audit,
checked against the configuration), history.json, sources.json, and OUT.lineage.json.
A killed run resumes from OUT.state/ when rerun with the same arguments.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # repo root, not stages/ (no shadowing)

from slm_backdoor.cli import StageError, json_arg, run_stage, seed_everything  # noqa: E402
from slm_backdoor.data import SpeechDataset, corpus_fields  # noqa: E402
from slm_backdoor.evaluation import Probe, sample_rows  # noqa: E402
from slm_backdoor.lineage import atomic_path, write_lineage  # noqa: E402
from slm_backdoor.manifest import read_manifest  # noqa: E402
from slm_backdoor.metrics import TASK_FIELD  # noqa: E402
from slm_backdoor.runs import build, check_audit, fingerprints, place, save_run  # noqa: E402
from slm_backdoor.training import TrainConfig, train  # noqa: E402
from slm_backdoor.triggers import load_trigger  # noqa: E402


def make_probe(p: dict, seed: int):
    """The defense-curve probe: a fixed sample of clean and triggered test clips."""
    missing = [k for k in ("task", "target", "probe_clean", "probe_triggered", "trigger", "every",
                           "clips") if k not in p]
    if missing:
        raise StageError(f"--probe: missing key(s) {', '.join(missing)}")
    field = [TASK_FIELD[p["task"]]]
    clean = sample_rows(read_manifest(p["probe_clean"]), int(p["clips"]), seed)
    trig = sample_rows(read_manifest(p["probe_triggered"]), int(p["clips"]), seed)
    probe = Probe(p["task"], p["target"], SpeechDataset(clean, field, desc="probe clean"),
                  SpeechDataset(trig, field, load_trigger(p["trigger"]), desc="probe triggered"),
                  int(p.get("batch_size", 32)), int(p.get("max_new_tokens", 24)))
    return probe, int(p["every"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for arg in ("--llm", "--encoder", "--connector", "--lora", "--train-manifest",
                "--dev-manifest", "--params", "--out"):
        ap.add_argument(arg, required=True)
    ap.add_argument("--train-encoder", default="0", help="top N encoder layers to train, 'all' or 0")
    ap.add_argument("--train-connector", type=int, default=1)
    ap.add_argument("--train-lora", type=int, default=1)
    ap.add_argument("--trigger", default=None, help="trigger WAV (needed if rows are poisoned)")
    ap.add_argument("--fields", default=None, help="comma-separated prompt fields (default: all "
                                                    "labelled fields of the corpus)")
    ap.add_argument("--task-field", default=None,
                    help="the run's task field: a share train.task_prompt_prob of the training "
                         "prompts asks for it alone (the evaluation's prompt)")
    ap.add_argument("--probe", default=None,
                    help="JSON {task, target, probe_clean, probe_triggered, trigger, every, clips, "
                         "batch_size, max_new_tokens}: measure AER and the benign metric on a "
                         "sample of test clips every N steps (the defense curve)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    cfg = json_arg(a.params)
    seed_everything(a.seed, cfg.get("threads"))
    enc_layers = a.train_encoder if a.train_encoder == "all" else int(a.train_encoder)
    model = build(a.llm, a.encoder, a.connector, a.lora, cfg.get("lora"),
                  int(cfg.get("connector_stride", 2)), pins=cfg.get("checkpoints"))
    model.set_trainable(enc_layers, bool(a.train_connector), bool(a.train_lora))
    place(model, cfg)  # device, bf16 autocast on GPU, gradient checkpointing
    expected = {"encoder": enc_layers not in (0, "0"), "connector": bool(a.train_connector),
                "lora": bool(a.train_lora), "llm_base": False}

    tr, dv = read_manifest(a.train_manifest), read_manifest(a.dev_manifest)
    fields = a.fields.split(",") if a.fields else corpus_fields(tr)
    if a.task_field is not None and a.task_field not in fields:
        raise StageError(f"--task-field: {a.task_field!r} is not a prompt field of "
                         f"{a.train_manifest} ({', '.join(fields)})")
    poisoned = "poisoned" in tr.columns and (tr["poisoned"] == "1").any()
    if poisoned and not a.trigger:
        raise ValueError(f"{a.train_manifest}: has poisoned rows but no --trigger was given")
    trigger = load_trigger(a.trigger) if a.trigger else None
    train_ds = SpeechDataset(tr, fields, trigger, desc="train")
    dev_ds = SpeechDataset(dv, fields, None, desc="dev")

    out = Path(a.out)
    state = out.parent / f"{out.name}.state"
    key = hashlib.sha256(json.dumps(vars(a), sort_keys=True).encode()).hexdigest()
    keyfile = out.parent / f"{out.name}.state.key"
    if state.exists() and (not keyfile.exists() or keyfile.read_text() != key):
        shutil.rmtree(state)  # a state left by other arguments is never resumed
    out.parent.mkdir(parents=True, exist_ok=True)
    keyfile.write_text(key)

    probe, probe_every = make_probe(json_arg(a.probe, "--probe"), a.seed) if a.probe else (None, 0)
    before = fingerprints(model)
    tcfg = TrainConfig.from_dict({**cfg, "seed": a.seed})
    hist = train(model, train_ds, dev_ds, tcfg, state_dir=state, desc=out.name, probe=probe,
                 probe_every=probe_every, focus=a.task_field)
    audit = check_audit(model, before, expected)
    sources = {"encoder": a.encoder, "connector": a.connector, "lora": a.lora, "llm": a.llm,
               "train_encoder": a.train_encoder, "train_connector": a.train_connector,
               "train_lora": a.train_lora, "fields": fields, "task_field": a.task_field}
    with atomic_path(out) as tmp:
        save_run(model, tmp, audit, hist, sources)
    inputs = {"train_manifest": a.train_manifest, "dev_manifest": a.dev_manifest, "llm": a.llm,
              "trigger": a.trigger}
    if a.probe:
        p = json_arg(a.probe, "--probe")
        inputs.update({k: p[k] for k in ("probe_clean", "probe_triggered")})
    inputs.update({k: getattr(a, k) for k in ("encoder", "connector", "lora")
                   if getattr(a, k) != "fresh"})
    write_lineage(out, "train", inputs, cfg, extra={"sources": sources,
                                                    "best_val": hist["best_val"]})
    shutil.rmtree(state, ignore_errors=True)
    keyfile.unlink(missing_ok=True)
    print(f"train {out}: {hist['steps_done']} steps, best dev loss {hist['best_val']:.4f}")


if __name__ == "__main__":
    run_stage(main)
