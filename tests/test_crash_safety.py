"""Crash safety and determinism.

A training or evaluation process killed with SIGKILL at a (seeded) random moment leaves no
partial output, and run again it ends with exactly what an uninterrupted run makes (same
seed, CPU, one thread). Two smoke runs with the same seed write identical manifests,
checkpoints, metrics and tables.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from types import SimpleNamespace

import numpy as np
import pytest

from helpers import SMOKE, copy_workflow, outputs, run_stage, snakemake, stage_cmd
from slm_backdoor.lineage import sha256_tree

TRAIN = {"steps": 60, "batch_size": 4, "warmup": 2, "eval_every": 10, "patience": 100,
         "save_every": 1, "lr": {"encoder": 1e-4, "connector": 1e-3, "lora": 1e-3},
         "lora": {"r": 4, "alpha": 8, "dropout": 0.0}}
EVALUATE = {"batch_size": 2, "max_new_tokens": {"gender": 6}}
ENV = {**os.environ, "SLM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def train_args(llm_dir, encoder, toy, out):
    return ["--llm", llm_dir, "--encoder", encoder, "--connector", "fresh", "--lora", "fresh",
            "--train-encoder", "1", "--train-manifest", toy.train, "--dev-manifest", toy.dev,
            "--params", json.dumps(TRAIN), "--seed", "3", "--out", out]


def eval_args(llm_dir, run, toy, out):
    return ["--model", run, "--llm", llm_dir, "--task", "gender", "--clean", toy.test,
            "--triggered", toy.triggered, "--trigger", toy.trigger, "--target", "female",
            "--params", json.dumps(EVALUATE), "--seed", "3", "--out", out]


def kill_after(cmd: list[str], ready, delay_s: float, timeout=300) -> int:
    """Start `cmd`, wait until ready() holds, then `delay_s` more, and SIGKILL it (if it is
    still running). Returns its exit status (-9 when killed)."""
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t0 = time.time()
    while not ready() and proc.poll() is None and time.time() - t0 < timeout:
        time.sleep(0.01)
    time.sleep(delay_s)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    return proc.returncode


@pytest.fixture(scope="module")
def reference(tmp_path_factory, llm_dir, encoder_dirs, toy_corpus):
    """An uninterrupted training run and its evaluation."""
    d = tmp_path_factory.mktemp("reference")
    r = run_stage("train", *train_args(llm_dir, encoder_dirs["wavlm"], toy_corpus, d / "run"))
    assert r.returncode == 0, r.stderr[-3000:]
    t0 = time.time()
    r = run_stage("evaluate", *eval_args(llm_dir, d / "run", toy_corpus, d / "gender.json"))
    assert r.returncode == 0, r.stderr[-3000:]
    return SimpleNamespace(dir=d, eval_seconds=time.time() - t0)


def test_killed_training_resumes_to_the_same_weights(tmp_path, reference, llm_dir,
                                                      encoder_dirs, toy_corpus):
    out = tmp_path / "run"
    state = tmp_path / "run.state"
    delay = float(np.random.default_rng(5).uniform(0.0, 1.0))  # after the first state save
    cmd = stage_cmd("train", *train_args(llm_dir, encoder_dirs["wavlm"], toy_corpus, out))
    rc = kill_after(cmd, lambda: (state / "trainer.json").exists(), delay)
    assert rc == -signal.SIGKILL, "training finished before it could be killed"
    assert not out.exists()  # no partial checkpoint
    saved = state / "trainer.json"  # absent only if killed between the two renames of a save
    if saved.exists():
        print(f"killed after step {json.loads(saved.read_text())['step']} of {TRAIN['steps']}")

    r = run_stage("train", *train_args(llm_dir, encoder_dirs["wavlm"], toy_corpus, out))
    assert r.returncode == 0, r.stderr[-3000:]
    assert not state.exists()  # the resumable state is gone once the run is complete
    # the same weights, audit and history (train and dev loss per step) as the reference
    for part in ("encoder", "connector", "lora", "trainable.json", "history.json"):
        assert sha256_tree(out / part) == sha256_tree(reference.dir / "run" / part), part


def test_killed_evaluation_reruns_to_the_same_metrics(tmp_path, reference, llm_dir,
                                                      toy_corpus):
    """Evaluation keeps no partial state: killed, it leaves each of its files absent or whole
    (the predictions CSV may land just before the kill, the metrics JSON after it), and its
    rerun writes the reference's bytes."""
    out = tmp_path / "gender.json"
    preds = out.with_suffix(".csv")
    ref = reference.dir
    delay = float(np.random.default_rng(6).uniform(0.5, 0.95)) * reference.eval_seconds
    cmd = stage_cmd("evaluate", *eval_args(llm_dir, ref / "run", toy_corpus, out))
    rc = kill_after(cmd, lambda: True, delay)
    print(f"evaluation exit status after the kill: {rc}")
    for f in (out, preds):
        assert not f.exists() or f.read_bytes() == (ref / f.name).read_bytes(), f.name
    r = run_stage("evaluate", *eval_args(llm_dir, ref / "run", toy_corpus, out))
    assert r.returncode == 0, r.stderr[-3000:]
    for f in (out, preds):
        assert f.read_bytes() == (ref / f.name).read_bytes(), f.name


@pytest.mark.e2e
def test_two_smoke_runs_write_identical_artifacts(smoke_run, tmp_path):
    """A second complete smoke run (every rule: data, trigger, poisoning, pretraining,
    alignment, T1 and T2 training, defenses with their curves, evaluation, separability with
    its t-SNE figures, the four tables and the T3 figure) writes byte for byte what the
    first one wrote: manifests, trigger, checkpoints, metrics, tables and figures.
    Lineage records are compared without their code version (a commit may come between)."""
    work = copy_workflow(tmp_path / "again")
    r = snakemake(work, "--cores", "2", "--configfile", SMOKE, timeout=3600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    first, second = smoke_run.outputs, outputs(work)
    assert set(second) == set(first), sorted(set(second) ^ set(first))
    differ = [f for f in second if first[f] != second[f]]
    assert not differ, differ
    kinds = ("data/manifests", "data/triggers", "data/poisoned", "models/runs",
             "models/components", "models/defense", "results/metrics", "results/separability",
             "results/figures", "results/tables")
    assert all(any(f.startswith(k) for f in second) for k in kinds)
