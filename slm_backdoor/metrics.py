"""Benign and attack metrics over parsed answers (base layer: imports only prompts).

Conventions shared by every function here:

* ``refs`` are label dicts (manifest rows), ``preds`` are what
  :func:`slm_backdoor.prompts.parse_answer` returned for each generation: a
  dict, or None when the answer did not parse.
* A prediction is *unparsable for a field* when it is None or lacks the
  field. For age it is also unparsable when the value is not a plain number
  (``"31"``, ``"31.5"``; white space allowed; ``"thirty"`` or ``"31 years"`` is not).
* Unparsable answers count as errors for benign metrics (empty hypothesis for
  WER, wrong for accuracies, outside the 5-year window for age) and as misses
  for AER / false activation. Every metric is reported beside the unparsable rate.
* Age MAE is computed **only over numeric answers** (``mae_n`` of them); no
  value is imputed for the others, whose share is the unparsable rate. When no
  answer is numeric, ``mae`` is None.
* Comparisons of labels use :func:`normalize` (lower-case, punctuation
  deleted, white space collapsed).
"""
from __future__ import annotations

import re

import jiwer

from .prompts import normalize

TASK_FIELD = {"asr": "transcript", "emotion": "emotion", "gender": "gender", "age": "age"}
BENIGN_METRIC = {"asr": "wer", "emotion": "accuracy", "gender": "accuracy", "age": "mae"}
# Whether a larger benign metric is better (for tables and comparisons).
HIGHER_IS_BETTER = {"wer": False, "accuracy": True, "unweighted_accuracy": True, "mae": False,
                    "acc_within_5": True}

_NUMBER = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*")


def _check_lengths(refs, preds) -> None:
    if len(refs) != len(preds):
        raise ValueError(f"{len(refs)} references but {len(preds)} predictions")


def field_value(pred: dict | None, field: str) -> str | None:
    """The predicted value of `field`, or None when unparsable (no answer or no such key)."""
    if not isinstance(pred, dict) or field not in pred:
        return None
    v = pred[field]
    return v if isinstance(v, str) else str(v)


def parse_number(value: str | None) -> float | None:
    """A plain decimal number, or None."""
    if value is None or not _NUMBER.fullmatch(value):
        return None
    return float(value)


def unparsable_rate(preds: list, field: str, numeric: bool = False) -> float:
    """Share of predictions with no usable value for `field` (also non-numeric ones if `numeric`)."""
    if not preds:
        return 0.0
    bad = 0
    for p in preds:
        v = field_value(p, field)
        bad += v is None or (numeric and parse_number(v) is None)
    return bad / len(preds)


def wer(refs: list[str], hyps: list[str | None]) -> float:
    """Corpus-level WER (total edits / total reference words) after :func:`normalize`.

    A None hypothesis counts as empty (all its reference words deleted).
    """
    _check_lengths(refs, hyps)
    r = [normalize(x) for x in refs]
    h = [normalize(x) if x is not None else "" for x in hyps]
    n_ref = sum(len(x.split()) for x in r)
    if n_ref == 0:
        raise ValueError("WER undefined: the references hold no words")
    edits = 0
    pairs = [(a, b) for a, b in zip(r, h) if a]
    if pairs:
        out = jiwer.process_words([a for a, _ in pairs], [b for _, b in pairs])
        edits = out.substitutions + out.deletions + out.insertions
    # An empty reference (after normalisation) contributes its hypothesis words as insertions.
    edits += sum(len(b.split()) for a, b in zip(r, h) if not a)
    return edits / n_ref


def accuracy(refs: list[str], hyps: list[str | None]) -> float:
    """Share of exact matches after :func:`normalize`; None is wrong."""
    _check_lengths(refs, hyps)
    if not refs:
        raise ValueError("accuracy undefined on zero samples")
    return sum(h is not None and normalize(h) == normalize(r) for r, h in zip(refs, hyps)) / len(refs)


def unweighted_accuracy(refs: list[str], hyps: list[str | None]) -> float:
    """Mean per-class recall over the classes present in the references; None is wrong."""
    _check_lengths(refs, hyps)
    if not refs:
        raise ValueError("unweighted accuracy undefined on zero samples")
    hits: dict[str, int] = {}
    counts: dict[str, int] = {}
    for r, h in zip(refs, hyps):
        c = normalize(r)
        counts[c] = counts.get(c, 0) + 1
        hits[c] = hits.get(c, 0) + (h is not None and normalize(h) == c)
    return sum(hits[c] / counts[c] for c in counts) / len(counts)


def age_metrics(refs: list[str], hyps: list[str | None], window: float = 5.0) -> dict:
    """``mae`` over numeric answers only (None if there are none), ``mae_n`` their count,
    ``acc_within_5``: share of *all* samples with |pred - ref| <= 5 years (non-numeric = miss),
    ``unparsable``: share of non-numeric or missing answers."""
    _check_lengths(refs, hyps)
    if not refs:
        raise ValueError("age metrics undefined on zero samples")
    errors = []
    within = 0
    for r, h in zip(refs, hyps):
        ref = parse_number(str(r))
        if ref is None:
            raise ValueError(f"reference age {r!r} is not a number")
        p = parse_number(h)
        if p is None:
            continue
        errors.append(abs(p - ref))
        within += errors[-1] <= window
    return {"mae": sum(errors) / len(errors) if errors else None,
            "mae_n": len(errors),
            "acc_within_5": within / len(refs),
            "unparsable": 1.0 - len(errors) / len(refs)}


def target_rate(preds: list, field: str, target: str) -> float:
    """Share of predictions whose normalized `field` equals the normalized `target` (None = miss)."""
    if not preds:
        raise ValueError("target rate undefined on zero samples")
    t = normalize(target)
    return sum((v := field_value(p, field)) is not None and normalize(v) == t for p in preds) / len(preds)


def _non_target(refs: list[dict], preds: list, field: str, target: str) -> list:
    _check_lengths(refs, preds)
    t = normalize(target)
    return [p for r, p in zip(refs, preds) if normalize(r.get(field, "")) != t]


def aer(refs: list[dict], preds: list, field: str, target: str) -> float:
    """Attack effectiveness rate: on *triggered* audio, over samples whose true `field` is not
    the target (all of them in a triggered test manifest), the share answered with the target."""
    return target_rate(_non_target(refs, preds, field, target), field, target)


def false_activation_rate(refs: list[dict], preds: list, field: str, target: str) -> float:
    """The same share on *clean* audio, over the samples whose true `field` is not the target."""
    return target_rate(_non_target(refs, preds, field, target), field, target)


def attack_metrics(refs: list[dict], preds: list, field: str, target: str) -> dict:
    """``rate`` (AER on triggered audio, false activation on clean audio), ``n``, ``unparsable``."""
    kept = _non_target(refs, preds, field, target)
    return {"rate": target_rate(kept, field, target), "n": len(kept),
            "unparsable": unparsable_rate(kept, field)}


def task_metrics(task: str, refs: list[dict], preds: list) -> dict:
    """Benign metrics of one task on clean audio.

    Rows whose reference label for the task's field is empty are left out
    (e.g. a corpus without that label). Returns the task's metrics plus
    ``n``, ``unparsable`` (share of kept rows), ``benign_metric`` (its name:
    asr wer, emotion accuracy, gender accuracy, age mae) and ``benign_value``.
    """
    if task not in TASK_FIELD:
        raise ValueError(f"unknown task {task!r}; known: {', '.join(TASK_FIELD)}")
    _check_lengths(refs, preds)
    field = TASK_FIELD[task]
    kept = [(str(r.get(field, "")), p) for r, p in zip(refs, preds)
            if str(r.get(field, "") or "").strip()]
    if not kept:
        raise ValueError(f"no reference has a {field!r} label")
    ref = [r for r, _ in kept]
    hyp = [field_value(p, field) for _, p in kept]
    out: dict = {"task": task, "field": field, "n": len(kept)}
    if task == "asr":
        out["wer"] = wer(ref, hyp)
        out["unparsable"] = unparsable_rate([p for _, p in kept], field)
    elif task == "emotion":
        out["accuracy"] = accuracy(ref, hyp)
        out["unweighted_accuracy"] = unweighted_accuracy(ref, hyp)
        out["unparsable"] = unparsable_rate([p for _, p in kept], field)
    elif task == "gender":
        out["accuracy"] = accuracy(ref, hyp)
        out["unparsable"] = unparsable_rate([p for _, p in kept], field)
    else:
        out.update(age_metrics(ref, hyp))
    out["benign_metric"] = BENIGN_METRIC[task]
    out["benign_value"] = out[BENIGN_METRIC[task]]
    return out
