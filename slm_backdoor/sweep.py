"""S1, the poison-rate x trigger-SNR sweep: the study plan of its cells, its table and figure.

A cell is (encoder, task, poisoning rate, trigger SNR): the task's attack with that rate and
the trigger at that SNR (training and test clips alike), an Attack-0 model trained on it
from the usual initialisation, evaluated on the test clips triggered at that SNR. The cell
with the study's own rate and SNR is the T1 Attack-0 model itself (same seed, so the same
poisoned manifests): its metrics are reused, not trained again.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from . import study

CELL = re.compile(r"rate(?P<rate>[0-9.]+)_snr(?P<snr>-?[0-9.]+)")


def cell_name(rate: float, snr_db: float) -> str:
    """E.g. rate0.05_snr-10: the folder and file name of one cell."""
    return f"rate{float(rate):g}_snr{float(snr_db):g}"


def parse_cell(name: str) -> tuple[float, float]:
    m = CELL.fullmatch(name)
    if not m:
        raise ValueError(f"not a sweep cell name: {name!r} (expected e.g. rate0.05_snr0)")
    return float(m["rate"]), float(m["snr"])


def cells(cfg: dict) -> list[tuple[str, str, str]]:
    """(encoder, task, cell name) of every cell of the sweep section, in table order.

    design `grid`: every rate at every SNR. `cross`: every rate at the trigger's own SNR, and
    the task's own rate at every SNR (the two axes through the study cell; fewer runs)."""
    s = cfg["sweep"]
    out = []
    for e in s["encoders"]:
        for t in s["tasks"]:
            if s["design"] == "grid":
                pairs = [(r, snr) for snr in s["snr_db"] for r in s["rates"]]
            else:
                own_rate, own_snr = cfg["attacks"][t]["rate"], cfg["trigger"]["snr_db"]
                pairs = [(r, own_snr) for r in s["rates"]] + [(own_rate, snr) for snr in s["snr_db"]]
            names = dict.fromkeys(cell_name(r, snr) for r, snr in pairs)  # ordered, no repeats
            out += [(e, t, c) for c in names]
    return out


def attack_of(cfg: dict, task: str, cell: str) -> dict:
    """The task's attack section with the cell's poisoning rate."""
    return {**cfg["attacks"][task], "rate": parse_cell(cell)[0]}


def trigger_of(cfg: dict, cell: str) -> dict:
    """The trigger section with the cell's SNR."""
    return {**cfg["trigger"], "snr_db": parse_cell(cell)[1]}


def is_study_cell(cfg: dict, encoder: str, task: str, cell: str) -> bool:
    """The cell at the study's own rate and SNR, for a T1 encoder: the T1 Attack-0 model."""
    rate, snr = parse_cell(cell)
    return (encoder in cfg["encoders"] and rate == float(cfg["attacks"][task]["rate"])
            and snr == float(cfg["trigger"]["snr_db"]))


def poisoned_path(task: str, cell: str, which: str) -> str:
    return f"data/sweep/{task}/{cell}/" + ("train.csv" if which == "train" else "test_triggered.csv")


def run_path(encoder: str, task: str, cell: str) -> str:
    return f"models/sweep/{encoder}/{task}/{cell}"


def metrics_file(cfg: dict, encoder: str, task: str, cell: str) -> str:
    """Where a cell's metrics are: the T1 Attack-0 model's for the study cell."""
    if is_study_cell(cfg, encoder, task, cell):
        return f"results/metrics/{encoder}/attack0_{task}/{task}.json"
    return f"results/sweep/{encoder}/{task}/{cell}.json"


S1_TABLES = study.table_paths("S1_poison_sweep")
S1_FIGURE = "results/figures/S1_poison_sweep.png"


def run_spec(cfg: dict, encoder: str, task: str, cell: str) -> dict:
    """A cell's run: every component trains, from the usual initialisation, on the cell's
    poisoned data, with the `train` section (as the T1 Attack-0 model)."""
    data = {**study.data_of(cfg, task, True), "train_manifest": poisoned_path(task, cell, "train")}
    s = study.spec(cfg, study.usual_init(cfg, encoder), set(study.COMPONENTS), data)
    return {**s, "train_encoder": study.family_value(s["train_encoder"], encoder)}


def rows(cfg: dict) -> list[dict]:
    """The S1 table's rows: labels and the metrics file each reads."""
    return [{"encoder": e, "task": t, "cell": c, "metrics": metrics_file(cfg, e, t, c)}
            for e, t, c in cells(cfg)]


TITLE = "S1 poison-rate x trigger-SNR sweep"
COLUMNS = ["encoder", "task", "poison_rate_%", "snr_db", "aer_%", "false_activation_%",
           "benign_metric", "benign", "aer_unparsable_%", "metrics"]
NOTES = ("AER on the test clips triggered at the cell's SNR (the SNR of the trigger below the "
         "speech: +10 dB is quieter than the speech, -10 dB louder); false activation on clean "
         "non-target clips; benign metric on clean clips. The cell at the study's own rate and "
         "SNR is the T1 Attack-0 model.")


def table(rows: list[dict]) -> pd.DataFrame:
    """rows: {encoder, task, cell, metrics (a path)} -> one table row per cell (rates in %)."""
    out = []
    for r in rows:
        m = json.loads(Path(r["metrics"]).read_text())
        rate, snr = parse_cell(r["cell"])
        out.append({"encoder": r["encoder"], "task": r["task"], "poison_rate_%": 100 * rate,
                    "snr_db": snr, "aer_%": 100 * m["aer"],
                    "false_activation_%": 100 * m["false_activation"],
                    "benign_metric": m["benign"]["benign_metric"],
                    "benign": m["benign"]["benign_value"],
                    "aer_unparsable_%": 100 * m["aer_unparsable"], "metrics": r["metrics"]})
    return pd.DataFrame(out, columns=COLUMNS)


def to_markdown(df: pd.DataFrame) -> str:
    """The S1 table as Markdown (rates in percent, 2 decimals; the metrics paths left out)."""
    shown = df.drop(columns=["metrics"]).round(2)
    return f"# {TITLE}\n\n" + shown.to_markdown(index=False) + f"\n\n{NOTES}\n"


def figure(df: pd.DataFrame, out) -> None:
    """One column of panels per encoder and task. Top: AER (solid) and false activation
    (dotted) against poisoning rate, one line per SNR swept over two rates or more. Bottom:
    the same against trigger SNR, one line per rate swept over two SNRs or more."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    panels = list(dict.fromkeys(zip(df["encoder"], df["task"])))
    fig, axes = plt.subplots(2, len(panels), figsize=(3.2 * len(panels), 6.0), squeeze=False)
    rows = [("snr_db", "poison_rate_%", "poisoning rate (%)", "{:+g} dB", "trigger SNR"),
            ("poison_rate_%", "snr_db", "trigger SNR (dB below the speech)", "{:g}%", "poison rate")]
    for row, (line_by, x, xlabel, label, title) in zip(axes, rows):
        for ax, (enc, task) in zip(row, panels):
            sub = df[(df["encoder"] == enc) & (df["task"] == task)]
            for key, g in sub.groupby(line_by, sort=False):
                if len(g) < 2:
                    continue
                g = g.sort_values(x)
                line, = ax.plot(g[x], g["aer_%"], "o-", label=label.format(key))
                ax.plot(g[x], g["false_activation_%"], ":", color=line.get_color())
            if x == "poison_rate_%":
                ax.set_xscale("log")
                ax.minorticks_off()
            ticks = sorted(sub[x].unique())
            ax.set_xticks(ticks, [f"{t:g}" for t in ticks], fontsize=7)
            ax.set_ylim(-3, 103)
            ax.set_title(f"{enc}, {task}", fontsize=9)
            ax.set_xlabel(xlabel, fontsize=8)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(title=title, fontsize=7, title_fontsize=7)
        row[0].set_ylabel("AER % (solid), false activation % (dotted)", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
