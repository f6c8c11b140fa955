"""Make the trigger WAV: the synthetic typewriter click, or a named audio file resampled and down-mixed.

    python stages/trigger.py --params '{"source": "synthetic", "path": null, "duration_s": 0.22, ...}' \
        --seed 1234 [--sr 16000] --out data/triggers/click.wav

Writes (atomically) OUT (mono float32 WAV), OUT.json (sha256, sr, duration, source) and
OUT.lineage.json. Bad input: one line on stderr naming the file or field, exit 2, nothing written.
Audio is written as 32-bit float WAV (the click stored exactly, the same bytes on every run).
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # repo root, not stages/ (no shadowing)

import numpy as np  # noqa: E402

from slm_backdoor.audio import write_wav  # noqa: E402
from slm_backdoor.cli import StageError, json_arg, run_stage  # noqa: E402
from slm_backdoor.lineage import sha256_file, write_json_atomic, write_lineage  # noqa: E402
from slm_backdoor.triggers import load_trigger, synth_click  # noqa: E402

STAGE = "trigger"





def source_of(p: dict) -> str | None:
    """None for the synthetic click, else the path of the audio file to use."""
    source = p.get("source", "synthetic")
    path = p.get("path")
    if not isinstance(source, str) or not source:
        raise StageError(f"trigger.source: expected 'synthetic' or a file path, got {source!r}")
    if path is not None and not isinstance(path, str):
        raise StageError(f"trigger.path: expected a file path or null, got {path!r}")
    if source == "synthetic":
        return path or None
    return path or source


def make_trigger(p: dict, seed: int, sr: int) -> tuple[np.ndarray, dict]:
    if sr <= 0:
        raise StageError(f"--sr: must be positive, got {sr}")
    src = source_of(p)
    if src is None:
        d = p.get("duration_s", 0.22)
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not math.isfinite(d) or d <= 0:
            raise StageError(f"trigger.duration_s: expected a positive number, got {d!r}")
        if int(round(d * sr)) < 8:
            raise StageError(f"trigger.duration_s: {d} s is too short at {sr} Hz")
        return synth_click(sr=sr, duration_s=float(d), seed=seed), {"source": "synthetic", "seed": seed}
    if not Path(src).is_file():
        raise StageError(f"{src}: trigger file not found (trigger.path / trigger.source)")
    wave = load_trigger(src, sr)  # a file that is not audio: ValueError, one line via run_stage
    return wave, {"source": str(src), "source_sha256": sha256_file(src)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", required=True, help="the trigger section of params.yaml, as JSON")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sr", type=int, default=16000)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    params = json_arg(a.params)
    wave, meta = make_trigger(params, a.seed, a.sr)
    out = Path(a.out)
    write_wav(out, wave, a.sr, exact=True)
    info = {"sha256": sha256_file(out), "sr": a.sr, "n_samples": int(len(wave)),
            "duration_s": len(wave) / a.sr, "peak": float(np.max(np.abs(wave))),
            "rms": float(np.sqrt(np.mean(np.square(wave, dtype=np.float64)))), **meta}
    write_json_atomic(out.parent / f"{out.name}.json", info)
    src = meta.get("source")
    write_lineage(out, STAGE, inputs={"source": src} if src != "synthetic" else {},
                  params={**params, "seed": a.seed, "sr": a.sr}, extra={"trigger": info})
    print(f"{STAGE}: wrote {out} ({info['duration_s']:.3f} s, {meta['source']})")


if __name__ == "__main__":
    run_stage(main)
