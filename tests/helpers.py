"""Plumbing shared by test modules: running the workflow in a scratch copy, running a stage
CLI, hashing a tree of outputs."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from slm_backdoor import study
from slm_backdoor.audio import write_wav
from slm_backdoor.manifest import COLUMNS

ROOT = Path(__file__).resolve().parents[1]
SMOKE = "workflow/profiles/smoke/params.yaml"
T1 = study.T1_TABLES[0]
SR = 16000


def load_script(path: Path, name: str):
    """A stage or script file imported as a module (they are not in a package)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stage_main(name: str, argv: list[str], folder: str = "stages") -> int:
    """Run FOLDER/<name>.py (a stage, or a script built the same way) in-process as its
    command line does (main under cli.run_stage: a bad input is one line on stderr,
    ``<name>: error: ...``); returns the exit status."""
    from slm_backdoor.cli import run_stage
    path = ROOT / folder / f"{name}.py"
    module = load_script(path, f"stage_{name}")
    argv0, sys.argv[0] = sys.argv[0], str(path)
    try:
        run_stage(lambda: module.main(argv))
    except SystemExit as e:
        return int(e.code)
    finally:
        sys.argv[0] = argv0
    return 0


def merged(overlay: str | None = None) -> dict:
    """params.yaml with a profile overlay merged in (as Snakemake's --configfile does)."""
    cfg = yaml.safe_load((ROOT / "params.yaml").read_text())
    if overlay:
        def update(a, b):
            for k, v in b.items():
                a[k] = update(a.get(k, {}), v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
            return a
        update(cfg, yaml.safe_load((ROOT / overlay).read_text()))
    return cfg


def copy_workflow(dest: Path) -> Path:
    """A scratch copy of the workflow (Snakefile, params.yaml, profiles/, workflow/, stages/):
    runs happen there, never in the repository's data/ models/ results/."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "params.yaml"):
        shutil.copy2(ROOT / name, dest / name)
    for name in ("profiles", "workflow", "stages"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def snakemake(workdir: Path, *args, timeout=120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE")}
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=timeout)


def stage_cmd(stage: str, *args) -> list[str]:
    return [sys.executable, str(ROOT / "stages" / f"{stage}.py"), *map(str, args)]


def run_stage(stage: str, *args, timeout=300) -> subprocess.CompletedProcess:
    """Run stages/STAGE.py as the workflow does (one thread)."""
    env = {**os.environ, "SLM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(stage_cmd(stage, *args), capture_output=True, text=True, env=env,
                          timeout=timeout)


def outputs(work: Path, dirs=("data", "models", "results")) -> dict[str, str]:
    """sha256 of every file the pipeline wrote under `dirs` (hidden files such as Snakemake's
    timestamps left out); lineage records are hashed without their code version."""
    out = {}
    for d in dirs:
        for f in sorted((work / d).rglob("*")):
            rel = f.relative_to(work)
            if not f.is_file() or any(part.startswith(".") for part in rel.parts):
                continue
            data = f.read_bytes()
            if f.name.endswith(".lineage.json"):
                rec = json.loads(data)
                rec.pop("code", None)  # a commit made between two runs is not a difference
                data = json.dumps(rec, sort_keys=True).encode()
            out[str(rel)] = hashlib.sha256(data).hexdigest()
    return out


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a (dry) run: rule -> number of jobs."""
    m = re.search(r"Job stats:\n.*?\n-+\s+-+\n(.*?)\ntotal\s+\d+", output, re.S)
    assert m, output[-3000:]
    return {rule: int(n) for rule, n in (line.split() for line in m.group(1).splitlines())}


def toy_dataset(n=8, seed=0, split="test", audio_dir: Path | None = None):
    """`n` clips of tone + noise (0.5 to 1 s, 16 kHz mono) as manifest rows with alternating
    speaker, gender, age and emotion labels, and their waves (float32). With `audio_dir`,
    each clip is also written as AUDIO_DIR/SPLIT/I.wav and its row's path names it."""
    rng = np.random.default_rng(seed)
    rows, waves = [], []
    for i in range(n):
        t = np.arange(8000 + 1000 * i) / SR
        wave = 0.3 * np.sin(2 * np.pi * (150 + 60 * (i % 2)) * t) + rng.normal(0, 0.05, len(t))
        path = write_wav(audio_dir / split / f"{i}.wav", wave) if audio_dir else ""
        waves.append(wave.astype(np.float32))
        rows.append({"id": f"{split}{i}", "path": str(path), "duration": str(len(t) / SR),
                     "speaker": f"s{i % 2}", "dataset": "toy", "split": split,
                     "transcript": "the cat sat", "gender": ["male", "female"][i % 2],
                     "age": ["31", "40"][i % 2], "emotion": ["angry", "sad"][i % 2]})
    return pd.DataFrame(rows, columns=COLUMNS), waves
