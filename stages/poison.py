"""Poison a training manifest (dirty label) and make the triggered test manifest of one attack.

    python stages/poison.py --train data/manifests/C/train.csv --test data/manifests/C/test.csv \
        --trigger data/triggers/click.wav --attack '{"field": "emotion", "target": "angry", "rate": 0.1,
        "repeat": false, ...}' --trigger-params '{"snr_db": 0.0, "repeat_period_s": [0.75, 1.5], ...}' \
        --seed 1234 [--sr 16000] --out-train data/poisoned/TASK/train.csv \
        --out-test data/poisoned/TASK/test_triggered.csv

Both manifests are written atomically, each with a lineage record (inputs: the two manifests and
the trigger). Bad input: one line on stderr naming the file or field, exit 2, nothing written.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # repo root, not stages/ (no shadowing)

from slm_backdoor.cli import StageError, json_arg, run_stage  # noqa: E402
from slm_backdoor.lineage import sha256_file, write_lineage  # noqa: E402
from slm_backdoor.manifest import EMOTIONS, GENDERS, read_manifest, write_manifest  # noqa: E402
from slm_backdoor.poisoning import n_poison, poison_manifest, triggered_test_manifest  # noqa: E402
from slm_backdoor.prompts import FIELDS  # noqa: E402
from slm_backdoor.triggers import load_trigger  # noqa: E402

STAGE = "poison"


def check_audio(df, manifest: str) -> None:
    """Every row's clip exists (training reads it later; a missing one would fail there)."""
    for i, (rid, path) in enumerate(zip(df["id"], df["path"])):
        if not Path(path).is_file():
            raise StageError(f"{manifest}: row {i + 2} (id {rid!r}), field path: audio file "
                             f"not found: {path}")


def left_out_reasons(test, field: str, target: str, trigger_len: int, sr: int) -> dict:
    """Why test rows cannot carry the trigger: no label, already the target, too short."""
    from slm_backdoor.poisoning import eligible_mask
    from slm_backdoor.prompts import normalize
    keep = eligible_mask(test, field, target, trigger_len, sr)
    labels = test[field].astype(str)
    no_label = ~keep & (labels.str.strip() == "").to_numpy()
    is_target = ~keep & ~no_label & (labels.map(normalize) == normalize(target)).to_numpy()
    too_short = ~keep & ~no_label & ~is_target
    return {"no label": int(no_label.sum()), "already the target": int(is_target.sum()),
            f"shorter than the trigger ({trigger_len} samples)": int(too_short.sum())}


def _number(v, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise StageError(f"{name}: expected a number, got {v!r}")
    return float(v)


def check_attack(a: dict) -> dict:
    field = a.get("field")
    if field not in FIELDS:
        raise StageError(f"attack.field: expected one of {', '.join(FIELDS)}, got {field!r}")
    target = a.get("target")
    if not isinstance(target, str) or not target.strip():
        raise StageError(f"attack.target: expected a non-empty string, got {target!r}")
    if field == "emotion" and target not in EMOTIONS:
        raise StageError(f"attack.target: {target!r} is not an emotion label ({', '.join(EMOTIONS)})")
    if field == "gender" and target not in GENDERS:
        raise StageError(f"attack.target: {target!r} is not a gender label ({', '.join(GENDERS)})")
    if field == "age" and not target.isdigit():
        raise StageError(f"attack.target: age target {target!r} is not a whole number")
    rate = _number(a.get("rate"), "attack.rate")
    if not 0 <= rate <= 1:
        raise StageError(f"attack.rate: {rate} is not in [0, 1]")
    repeat = a.get("repeat", False)
    if not isinstance(repeat, bool):
        raise StageError(f"attack.repeat: expected true/false, got {repeat!r}")
    return {"field": field, "target": target, "rate": rate, "repeat": repeat}


def check_trigger_params(t: dict) -> dict:
    snr = _number(t.get("snr_db"), "trigger.snr_db")
    period = t.get("repeat_period_s", [0.75, 1.5])
    if (not isinstance(period, (list, tuple)) or len(period) != 2
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in period)
            or not 0 < period[0] <= period[1]):
        raise StageError(f"trigger.repeat_period_s: expected [a, b] with 0 < a <= b, got {period!r}")
    return {"snr_db": snr, "period_s": [float(period[0]), float(period[1])]}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--trigger", required=True)
    ap.add_argument("--attack", required=True, help="one attacks.TASK section of params.yaml, as JSON")
    ap.add_argument("--trigger-params", required=True, help="the trigger section, as JSON")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sr", type=int, default=16000)
    ap.add_argument("--out-train", required=True)
    ap.add_argument("--out-test", required=True)
    a = ap.parse_args(argv)
    attack_raw = json_arg(a.attack, "--attack", schema="/$defs/attack")
    trig_raw = json_arg(a.trigger_params, "--trigger-params", schema="/properties/trigger")
    attack = check_attack(attack_raw)
    tp = check_trigger_params(trig_raw)
    if a.sr <= 0:
        raise StageError(f"--sr: must be positive, got {a.sr}")
    if not Path(a.trigger).is_file():
        raise StageError(f"{a.trigger}: trigger file not found")
    trigger = load_trigger(a.trigger, a.sr)
    trig_sha = sha256_file(a.trigger)
    train = read_manifest(a.train)
    test = read_manifest(a.test)
    if len(train) == 0:
        raise StageError(f"{a.train}: training manifest has no rows (nothing to poison)")
    check_audio(train, a.train)
    check_audio(test, a.test)
    common = dict(field=attack["field"], target=attack["target"], trigger_sha256=trig_sha,
                  trigger_len=len(trigger), sr=a.sr, snr_db=tp["snr_db"],
                  repeat=attack["repeat"], period_s=tp["period_s"], seed=a.seed)
    try:
        poisoned = poison_manifest(train, rate=attack["rate"], **common)
    except ValueError as e:
        raise StageError(f"{a.train}: {e}") from None
    try:
        triggered = triggered_test_manifest(test, **common)
    except ValueError as e:
        raise StageError(f"{a.test}: {e}") from None
    if len(triggered) == 0:
        raise StageError(f"{a.test}: no test row is eligible for the trigger "
                         f"(field {attack['field']!r} not {attack['target']!r}, long enough)")
    inputs = {"train": a.train, "test": a.test, "trigger": a.trigger}
    params = {"attack": attack_raw, "trigger": trig_raw, "seed": a.seed, "sr": a.sr}
    write_manifest(poisoned, a.out_train)
    write_lineage(a.out_train, STAGE, inputs, params,
                  extra={"n_rows": len(poisoned), "n_poisoned": int(poisoned["poisoned"].sum()),
                         "n_requested": n_poison(attack["rate"], len(train))})
    write_manifest(triggered, a.out_test)
    write_lineage(a.out_test, STAGE, inputs, params,
                  extra={"n_rows": len(triggered), "n_test_rows": len(test),
                         "n_left_out": len(test) - len(triggered)})
    reasons = left_out_reasons(test, attack["field"], attack["target"], len(trigger), a.sr)
    left_out = ", ".join(f"{n} {why}" for why, n in reasons.items() if n) or "none"
    print(f"{STAGE}: {int(poisoned['poisoned'].sum())}/{len(poisoned)} training rows poisoned "
          f"({attack['field']} -> {attack['target']!r}); {len(triggered)}/{len(test)} test rows "
          f"triggered; test rows left out: {left_out}")


if __name__ == "__main__":
    run_stage(main)
