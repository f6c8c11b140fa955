"""T2-T4 and the report on the smoke run: each component configuration loads, freezes and
trains what docs/DESIGN.md s4 says; the defense runs and their curve; the separability table;
one table by its own target; a defense parameter reruns only the defense; the report."""
import csv
import json
import shutil
import subprocess

import pytest

from helpers import SMOKE, job_counts, merged, snakemake
from slm_backdoor import study

T2, T3, T4 = study.T2_TABLES[0], study.T3_TABLES[0], study.T4_TABLES[0]
COMPONENTS = study.COMPONENTS
# config -> (where E, P, L come from; what trains; training data). "usual": the pretrained
# encoder and the aligned connector / LoRA; "clean"/"poisoned": the T1 clean / Attack-0 model.
CONFIGS = {
    "1E": (("clean", "usual", "usual"), {"connector", "lora"}, "poisoned"),
    "1P": (("usual", "clean", "usual"), {"encoder", "lora"}, "poisoned"),
    "1L": (("usual", "usual", "clean"), {"encoder", "connector"}, "poisoned"),
    "2E": (("clean", "clean", "clean"), {"encoder"}, "poisoned"),
    "2P": (("clean", "clean", "clean"), {"connector"}, "poisoned"),
    "2L": (("clean", "clean", "clean"), {"lora"}, "poisoned"),
    "3E": (("poisoned", "usual", "usual"), {"connector", "lora"}, "clean"),
    "3P": (("usual", "poisoned", "usual"), {"encoder", "lora"}, "clean"),
    "3L": (("usual", "usual", "poisoned"), {"encoder", "connector"}, "clean"),
}


def source_path(kind: str, comp: str, enc: str, task: str, corpus: str) -> str:
    if kind == "usual":
        return (f"models/pretrained/encoder_{enc}" if comp == "encoder"
                else f"models/aligned/{enc}/{comp}")
    run = f"clean_{corpus}" if kind == "clean" else f"attack0_{task}"
    return f"{study.run_dir(enc, run)}/{comp}"


def read_run(work, enc, run):
    d = work / study.run_dir(enc, run)
    return (json.loads((d / "sources.json").read_text()),
            json.loads((d / "trainable.json").read_text()),
            json.loads((work / study.lineage(study.run_dir(enc, run))).read_text()))


@pytest.mark.e2e
def test_each_component_configuration_loads_freezes_and_trains_what_it_should(smoke_run):
    work, cfg = smoke_run.work, merged(SMOKE)
    for enc in cfg["components"]["encoders"]:
        for task in cfg["components"]["tasks"]:
            corpus = cfg["attacks"][task]["corpus"]
            for name, (sources, trains, data) in CONFIGS.items():
                src, audit, lin = read_run(work, enc, f"{name}_{task}")
                for comp, kind in zip(COMPONENTS, sources):
                    assert src[comp] == source_path(kind, comp, enc, task, corpus), (name, comp)
                    assert audit[comp]["changed"] == (comp in trains), (name, comp)
                    assert (audit[comp]["trainable"] > 0) == (comp in trains), (name, comp)
                assert not audit["llm_base"]["changed"]
                train = lin["inputs"]["train_manifest"]["path"]
                assert train == (f"data/poisoned/{task}/train.csv" if data == "poisoned"
                                 else f"data/manifests/{corpus}/train.csv"), name


@pytest.mark.e2e
def test_defense_runs_start_from_the_backdoored_model_and_record_their_curve(smoke_run):
    work, cfg = smoke_run.work, merged(SMOKE)
    d = cfg["defense"]
    trains = {"full": set(COMPONENTS), "partial": {"connector", "lora"}, "lora": {"lora"}}
    for enc in d["encoders"]:
        for task in d["tasks"]:
            for start in d["starts"]:
                for method in d["methods"]:
                    for dom in study.defense_domains(cfg, task):
                        run = study.defense_run(start, method, dom, task)
                        src, audit, lin = read_run(work, enc, run)
                        start_run = study.config_run("0" if start == "attack0" else start, task)
                        for comp in COMPONENTS:
                            assert src[comp] == f"{study.run_dir(enc, start_run)}/{comp}"
                            assert audit[comp]["changed"] == (comp in trains[method]), (run, comp)
                        corpus = cfg["attacks"][task]["corpus"] if dom == "in" else d["cross"][task]
                        assert lin["inputs"]["train_manifest"]["path"] == \
                            f"data/manifests/{corpus}/train.csv"
                        hist = json.loads((work / study.run_dir(enc, run) / "history.json").read_text())
                        steps = [p["step"] for p in hist["probe"]]
                        every, total = d["curve"]["every"], d["train"]["steps"]
                        assert steps == list(range(0, total + 1, every)), run
                        assert all(0 <= p["aer"] <= 1 for p in hist["probe"])


@pytest.mark.e2e
def test_t2_t3_t4_tables(smoke_run):
    work, cfg = smoke_run.work, merged(SMOKE)
    comp, d, sep = cfg["components"], cfg["defense"], cfg["separability"]
    t2 = list(csv.DictReader((work / T2).open()))
    assert list(t2[0])[:9] == ["encoder", "config", "family", "task", "aer", "false_activation",
                               "benign_metric", "benign", "unparsable"]
    assert "paper_aer" in t2[0]
    assert [r["config"] for r in t2] == ["0", *comp["configs"]] * len(comp["tasks"])
    assert {r["family"] for r in t2} == {"full", "single-frozen", "single-training", "propagation"}

    t3 = list(csv.DictReader((work / T3).open()))
    for col in ("start", "defense", "domain", "task", "aer_before", "aer_after", "benign_before",
                "benign_after", "benign_original_after"):
        assert col in t3[0]
    n_dom = sum(1 + (t in d["cross"]) for t in d["tasks"])
    assert len(t3) == len(d["starts"]) * len(d["methods"]) * n_dom
    # before: the start model; in-domain, the benign metric after is the original one.
    attack0 = json.loads((work / study.metrics_path("wavlm", "attack0_emotion", "emotion")).read_text())
    row = next(r for r in t3 if r["start"] == "attack0" and r["domain"] == "in")
    assert float(row["aer_before"]) == pytest.approx(attack0["aer"])
    assert row["benign_after"] == row["benign_original_after"]
    assert (work / study.T3_FIGURE).stat().st_size > 1000

    t4 = list(csv.DictReader((work / T4).open()))
    assert len(t4) == 2 * len(sep["tasks"]) * len(sep["runs"])  # two layers per model
    for col in ("cosine", "k2_precision", "k2_recall", "k4_precision", "k4_recall"):
        assert all(-1 <= float(r[col]) <= 1 for r in t4), col
    for task in sep["tasks"]:
        assert (work / study.tsne_path("wavlm", f"attack0_{task}", task)).is_file()


def test_each_table_has_its_own_target(dry_dir):  # noqa: F811
    """Naming a table plans only what it needs (default config, dry run)."""
    counts = job_counts((lambda r: r.stdout + r.stderr)(snakemake(dry_dir, "-n", T3)))
    assert counts["tabulate_t3"] == 1 and counts["defend"] > 0
    assert not {"all", "tabulate_t1", "tabulate_t2", "tabulate_t4", "separability"} & set(counts)
    counts = job_counts((lambda r: r.stdout + r.stderr)(snakemake(dry_dir, "-n", study.T3_FIGURE)))
    assert counts["figure_t3"] == 1 and counts["defend"] > 0 and "tabulate_t3" not in counts
    counts = job_counts((lambda r: r.stdout + r.stderr)(snakemake(dry_dir, "-n", T4)))
    assert not {"defend", "evaluate", "evaluate_on", "tabulate_t1"} & set(counts)
    assert counts["separability"] > 0


@pytest.mark.e2e
def test_a_defense_parameter_reruns_only_the_defense(smoke_run, tmp_path):
    work, cfg = smoke_run.work, merged(SMOKE)
    overlay = tmp_path / "defense.yaml"
    overlay.write_text(f"defense: {{train: {{steps: {cfg['defense']['train']['steps'] + 1}}}}}\n")
    r = snakemake(work, "-n", "--configfile", SMOKE, str(overlay))
    assert r.returncode == 0, r.stderr[-3000:]
    counts = job_counts(r.stdout + r.stderr)
    d = cfg["defense"]
    n_def = len(d["starts"]) * len(d["methods"]) * sum(1 + (t in d["cross"]) for t in d["tasks"])
    assert counts["defend"] == n_def
    assert set(counts) == {"defend", "evaluate", "evaluate_on", "tabulate_t3", "figure_t3", "all"}


@pytest.mark.e2e
def test_report_holds_every_table_and_figure(smoke_run, tmp_path):
    work = smoke_run.work
    report = tmp_path / "report.html"
    r = snakemake(work, "--report", str(report), "--configfile", SMOKE, timeout=300)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    html = report.read_text(errors="replace")
    for name in ("T1_base_attack.csv", "T2_components.csv", "T3_defense.csv",
                 "T4_separability.csv", "T3_defense_curve.png", "T4 separability"):
        assert name in html, name
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        pytest.skip("headless Chromium not installed (Debian package `chromium`)")
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                          "--virtual-time-budget=10000", "--dump-dom", report.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    for text in ("T1 base attack", "T2 components", "T3 defense", "T4 separability"):
        assert text in dom.stdout, text
