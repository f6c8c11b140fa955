"""The study tables: their rows from the metrics (and separability) files, CSV and Markdown
formatting, and the T3 defense-curve figure (stages/tabulate.py, stages/figure_t3.py).

T1 (base attack, the paper's "Attack 0"): one row per encoder x attacked task, reading
METRICS_ROOT/ENCODER/attack0_TASK/TASK.json (the poisoned model) and
METRICS_ROOT/ENCODER/clean_CORPUS/TASK.json (the clean model of the task's corpus).
Columns:

    encoder, task, dataset          the run; dataset = the task's corpus (attacks.TASK.corpus)
    aer                             poisoned model, triggered test audio
    false_activation                poisoned model, clean non-target test audio
    clean_model_aer                 clean model, the same triggered audio (what the click alone does)
    benign_metric                   wer (asr), accuracy (emotion, gender), mae (age, years)
    benign_clean, benign_poisoned   that metric for the clean / poisoned model, clean test audio
    unparsable                      poisoned model, clean test audio: share of answers with no
                                    usable value for the task's field (errors in the benign
                                    metric; the AER's own unparsable share is in the JSON)
    paper_aer, paper_benign         the paper's numbers where known (WavLM), in the same units

T2-T4 take their rows from the workflow (slm_backdoor.study.t2_rows ...): each row names its
labels and the files it reads, so the tables know nothing of path conventions. The paper's
numbers (paper_* columns) are in data/paper_reference.yaml, with their sources.

Rates are fractions in the CSV and percentages (1 decimal) in the Markdown table; MAE is in
years. A bad input is a StageError naming the file or key.
"""
from __future__ import annotations

import csv
import io
import json
import math
from importlib.resources import files
from pathlib import Path

import yaml

from .cli import StageError
from .lineage import atomic_path, verify_input, write_lineage
from .metrics import TASK_FIELD

STAGE = "tabulate"
TITLES = {"t1": "T1 base attack (Attack 0)", "t2": "T2 component-wise analysis",
          "t3": "T3 fine-tuning defense", "t4": "T4 separability of clean and triggered clips"}
TASKS = tuple(TASK_FIELD)  # the study's tasks, in order
T1_COLUMNS = ["encoder", "task", "dataset", "aer", "false_activation", "clean_model_aer",
              "benign_metric", "benign_clean", "benign_poisoned", "unparsable", "paper_aer",
              "paper_benign"]
RATE_COLUMNS = {"aer", "false_activation", "clean_model_aer", "unparsable", "paper_aer",
                "aer_before", "aer_after", "paper_aer_after"}
RATE_METRICS = {"wer", "accuracy", "unweighted_accuracy", "acc_within_5"}
METRIC_LABEL = {"wer": "WER %", "accuracy": "accuracy %", "unweighted_accuracy": "UA %",
                "acc_within_5": "acc. within 5 y %", "mae": "MAE (years)"}


def paper_reference() -> dict:
    """data/paper_reference.yaml: per table, its source and the paper's rows."""
    return yaml.safe_load((files(__package__) / "data" / "paper_reference.yaml").read_text())


_PAPER = paper_reference()
PAPER_T1 = {(r["encoder"], r["task"]): (r["aer"], r["benign"]) for r in _PAPER["t1"]["rows"]}
# T2 (WavLM): configuration 0 is Attack 0, as in T1; then the configurations reported.
PAPER_T2 = {("0", t): v for (e, t), v in PAPER_T1.items() if e == "wavlm"}
PAPER_T2.update({(r["config"], r["task"]): (r["aer"], r["benign"]) for r in _PAPER["t2"]["rows"]})
PAPER_T3 = {(r["start"], r["defense"], r["domain"], r["task"]): r["aer_after"]
            for r in _PAPER["t3"]["rows"]}
PAPER_T4 = {(r["model"], r["task"], r["layer"]): r["cosine"] for r in _PAPER["t4"]["rows"]}


def _number(value, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise StageError(f"{where}: expected a number, got {value!r}")
    return float(value)


def load_metrics(path: Path, task: str, triggered: bool = True) -> dict:
    """One metrics JSON of stages/evaluate.py, checked for what the tables read
    (`triggered` False: a clean-only evaluation on another corpus, no AER)."""
    if not path.is_file():
        raise StageError(f"{path}: metrics file not found")
    verify_input(path)
    try:
        m = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise StageError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(m, dict):
        raise StageError(f"{path}: expected a JSON object")
    if m.get("task") != task:
        raise StageError(f"{path}: task: expected {task!r}, got {m.get('task')!r}")
    benign = m.get("benign")
    if not isinstance(benign, dict):
        raise StageError(f"{path}: benign: missing or not an object")
    for key in ("benign_metric", "benign_value", "unparsable"):
        if key not in benign:
            raise StageError(f"{path}: benign.{key}: missing")
    for key in ("aer", "false_activation") if triggered else ("false_activation",):
        if key not in m:
            raise StageError(f"{path}: {key}: missing")
    return {"aer": _number(m.get("aer"), f"{path}: aer"),
            "false_activation": _number(m["false_activation"], f"{path}: false_activation"),
            "benign_metric": str(benign["benign_metric"]),
            "benign_value": _number(benign["benign_value"], f"{path}: benign.benign_value"),
            "unparsable": _number(benign["unparsable"], f"{path}: benign.unparsable")}


def t1_rows(metrics_root: Path, attacks: dict, encoders: list[str]) -> tuple[list[dict], dict]:
    """The rows of T1 and {label: path} of every metrics file read."""
    if not isinstance(encoders, list) or not encoders or not all(isinstance(e, str) for e in encoders):
        raise StageError("--encoders: expected a non-empty JSON list of encoder names")
    unknown = [t for t in attacks if t not in TASKS]
    if unknown:
        raise StageError(f"--attacks: unknown task(s) {', '.join(map(repr, unknown))} "
                         f"(known: {', '.join(TASKS)})")
    rows, read = [], {}
    for enc in encoders:
        for task in (t for t in TASKS if t in attacks):
            spec = attacks[task]
            corpus = spec.get("corpus") if isinstance(spec, dict) else None
            if not isinstance(corpus, str) or not corpus:
                raise StageError(f"--attacks: {task}.corpus: missing")
            runs = {"poisoned": f"attack0_{task}", "clean": f"clean_{corpus}"}
            m = {}
            for role, run in runs.items():
                path = metrics_root / enc / run / f"{task}.json"
                m[role] = load_metrics(path, task)
                read[f"{enc}/{run}/{task}"] = str(path)
            if m["clean"]["benign_metric"] != m["poisoned"]["benign_metric"]:
                raise StageError(f"{metrics_root / enc}: {task}: benign_metric differs between "
                                 f"{runs['clean']} and {runs['poisoned']}")
            paper_aer, paper_benign = PAPER_T1.get((enc, task), (None, None))
            rows.append({"encoder": enc, "task": task, "dataset": corpus,
                         "aer": m["poisoned"]["aer"],
                         "false_activation": m["poisoned"]["false_activation"],
                         "clean_model_aer": m["clean"]["aer"],
                         "benign_metric": m["poisoned"]["benign_metric"],
                         "benign_clean": m["clean"]["benign_value"],
                         "benign_poisoned": m["poisoned"]["benign_value"],
                         "unparsable": m["poisoned"]["unparsable"],
                         "paper_aer": paper_aer, "paper_benign": paper_benign})
    return rows, read


def to_csv(rows: list[dict], columns: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({c: ("" if r[c] is None else r[c]) for c in columns})
    return buf.getvalue()


def _is_rate(row: dict, col: str) -> bool:
    if col in RATE_COLUMNS or col.endswith(("_precision", "_recall")):
        return True
    return (col.startswith(("benign", "paper_benign")) and col != "benign_metric"
            and row.get("benign_metric") in RATE_METRICS)


def _cell(row: dict, col: str) -> str:
    v = row[col]
    if v is None:
        return ""
    if _is_rate(row, col):
        return f"{100 * v:.1f}"
    if col.endswith("cosine"):
        return f"{v:.3f}"
    if isinstance(v, float):
        return f"{v:.1f}"
    if col == "benign_metric":
        return METRIC_LABEL.get(v, v)
    return str(v)


def to_markdown(rows: list[dict], columns: list[str], title: str, notes: list[str]) -> str:
    lines = [f"# {title}", ""]
    lines += [f"| {' | '.join(columns)} |", f"|{'|'.join('---' for _ in columns)}|"]
    lines += [f"| {' | '.join(_cell(r, c) for c in columns)} |" for r in rows]
    return "\n".join(lines + [""] + notes) + "\n"


T1_NOTES = [
    "Rates in percent (AER, false activation, clean-model AER, unparsable; WER and accuracy);",
    "MAE in years. aer / false_activation / unparsable / benign_poisoned: the Attack-0 model",
    "(every component trained on poisoned data); clean_model_aer / benign_clean: the clean",
    "multitask model of the same encoder and dataset. paper_*: Fortier et al. (2025), where",
    "reported.",
]


def write_table(rows: list[dict], columns: list[str], out: Path, title: str, notes: list[str],
                read: dict, params: dict) -> Path:
    md = out.with_suffix(".md")
    with atomic_path(out) as tmp_csv, atomic_path(md) as tmp_md:
        tmp_csv.write_text(to_csv(rows, columns))
        tmp_md.write_text(to_markdown(rows, columns, title, notes))
    for path in (out, md):
        write_lineage(path, STAGE, read, params, extra={"n_rows": len(rows)})
    return md


FAMILY = {"0": "full", "1": "single-frozen", "2": "single-training", "3": "propagation"}
T2_COLUMNS = ["encoder", "config", "family", "task", "aer", "false_activation", "benign_metric",
              "benign", "unparsable", "paper_aer", "paper_benign"]
T2_NOTES = [
    "Configurations (docs/DESIGN.md s4; E encoder, P connector, L LoRA): 0 every component trained",
    "on poisoned data (the T1 Attack-0 model); 1.X X from the clean model and frozen, the",
    "others from their usual initialisation, trained on poisoned data; 2.X only X trains, on",
    "poisoned data, from the clean model; 3.X X from the poisoned model and frozen, the others",
    "from their usual initialisation, trained on clean data. Rates in percent, MAE in years.",
    "paper_*: Fortier et al. (2025) where reported (3.E gender and age: reported as failing).",
]


def t2_rows(spec: list[dict]) -> tuple[list[dict], dict]:
    rows, read = [], {}
    for r in spec:
        m = load_metrics(Path(r["metrics"]), r["task"])
        read[f"{r['encoder']}/{r['config']}/{r['task']}"] = r["metrics"]
        paper_aer, paper_benign = (PAPER_T2.get((r["config"], r["task"]), (None, None))
                                   if r["encoder"] == "wavlm" else (None, None))
        rows.append({"encoder": r["encoder"], "config": r["config"],
                     "family": FAMILY[r["config"][0]], "task": r["task"], "aer": m["aer"],
                     "false_activation": m["false_activation"],
                     "benign_metric": m["benign_metric"], "benign": m["benign_value"],
                     "unparsable": m["unparsable"], "paper_aer": paper_aer,
                     "paper_benign": paper_benign})
    return rows, read


T3_COLUMNS = ["encoder", "start", "defense", "domain", "task", "dataset", "benign_metric",
              "aer_before", "aer_after", "benign_before", "benign_after",
              "benign_original_after", "paper_aer_after"]
T3_NOTES = [
    "start: the backdoored model fine-tuned (attack0 = the T1 Attack-0 model; 3.E = the model",
    "built on the poisoned encoder, whose encoder `full` unfreezes). defense: full = E+P+L,",
    "partial = P+L, lora = L only, on clean data of `dataset` (in = the task's own corpus,",
    "cross = another corpus). aer_*: triggered original test clips; benign_before/after: clean",
    "test clips of `dataset`; benign_original_after: the task's original test set (forgetting).",
    "Rates in percent, MAE in years. paper_aer_after: Fortier et al. (2025), as quoted.",
]


def t3_rows(spec: list[dict]) -> tuple[list[dict], dict]:
    rows, read = [], {}
    for r in spec:
        m = {}
        for role in ("before", "after", "before_domain", "after_domain"):
            m[role] = load_metrics(Path(r[role]), r["task"], r[role] in (r["before"], r["after"]))
            read[f"{r['encoder']}/{r['run']}/{role}"] = r[role]
        rows.append({"encoder": r["encoder"], "start": r["start"], "defense": r["defense"],
                     "domain": r["domain"], "task": r["task"], "dataset": r["dataset"],
                     "benign_metric": m["after"]["benign_metric"],
                     "aer_before": m["before"]["aer"], "aer_after": m["after"]["aer"],
                     "benign_before": m["before_domain"]["benign_value"],
                     "benign_after": m["after_domain"]["benign_value"],
                     "benign_original_after": m["after"]["benign_value"],
                     "paper_aer_after": PAPER_T3.get((r["start"], r["defense"], r["domain"],
                                                      r["task"]))})
    return rows, read


def load_curve(path: Path) -> list[dict]:
    """The defense curve recorded in a run's history.json (stages/train.py --probe)."""
    verify_input(path)  # the run directory holding it has the lineage record
    try:
        probe = json.loads(path.read_text())["probe"]
    except (OSError, json.JSONDecodeError, KeyError) as e:
        raise StageError(f"{path}: no defense curve (probe) in the run history ({e})") from None
    return probe


METHOD_COLOR = {"full": "tab:blue", "partial": "tab:orange", "lora": "tab:green"}


def t3_figure(spec: list[dict], out: Path) -> dict:
    """AER and the benign metric against defense steps, one panel pair per task; returns
    {label: path} of every run history read."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks, read = list(dict.fromkeys(r["task"] for r in spec)), {}
    fig, axes = plt.subplots(2, len(tasks), figsize=(4.5 * len(tasks), 6.5), squeeze=False)
    for j, task in enumerate(tasks):
        for r in (r for r in spec if r["task"] == task):
            curve = load_curve(Path(r["history"]))
            read[f"{r['encoder']}/{r['run']}/history"] = r["history"]
            steps = [c["step"] for c in curve]
            label = f"{r['start']} {r['defense']} {r['domain']}"
            style = {"color": METHOD_COLOR.get(r["defense"]), "label": label,
                     "linestyle": "-" if r["domain"] == "in" else "--",
                     "marker": "o" if r["start"] == "attack0" else "s", "markersize": 3}
            axes[0, j].plot(steps, [100 * c["aer"] for c in curve], **style)
            axes[1, j].plot(steps, [c["benign"] for c in curve], **style)
            metric = curve[0]["benign_metric"]
        axes[0, j].set_title(f"{task}: AER (%)")
        axes[1, j].set_title(f"{task}: {metric} (original test)")
        axes[1, j].set_xlabel("defense steps")
    axes[0, -1].legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return read


T4_NOTES = [
    "Mean-pooled outputs of the encoder and of the connector for the same test clips with and",
    "without the trigger (non-target clips of the triggered test set). cosine: mean paired",
    "cosine similarity (clean vs triggered version of a clip). kK_precision / kK_recall: PCA",
    "then k-means with K clusters on clean + triggered embeddings; the cluster that best",
    "isolates the triggered clips (highest F1). paper_cosine: Fortier et al. (2025), Attack-0",
    "model (the layer is not stated; shown beside the encoder output). Paper: k=2 does not",
    "isolate the poisoned samples, k=4 does.",
]


def t4_columns(ks: list[int]) -> list[str]:
    """T4's columns for the k-means cluster counts `ks`."""
    return (["encoder", "task", "model", "layer", "n_clips", "cosine"]
            + [f"k{k}_{m}" for k in ks for m in ("precision", "recall")] + ["paper_cosine"])


def t4_rows(spec: list[dict], ks: list[int]) -> tuple[list[dict], dict, list[str]]:
    rows, read = [], {}
    columns = t4_columns(ks)
    for r in spec:
        path = Path(r["separability"])
        verify_input(path)
        try:
            res = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise StageError(f"{path}: unreadable separability result ({e})") from None
        read[f"{r['encoder']}/{r['model']}/{r['task']}"] = str(path)
        for layer in ("encoder", "connector"):
            if layer not in res:
                raise StageError(f"{path}: {layer}: missing")
            row = {"encoder": r["encoder"], "task": r["task"], "model": r["model"],
                   "layer": layer, "n_clips": res.get("n_clips"),
                   "cosine": _number(res[layer].get("cosine"), f"{path}: {layer}.cosine"),
                   "paper_cosine": (PAPER_T4.get((r["model"], r["task"], layer))
                                    if r["encoder"] == "wavlm" else None)}
            for k in ks:
                iso = res[layer].get(f"k{k}")
                if not isinstance(iso, dict):
                    raise StageError(f"{path}: {layer}.k{k}: missing")
                row[f"k{k}_precision"], row[f"k{k}_recall"] = iso["precision"], iso["recall"]
            rows.append(row)
    return rows, read, columns
