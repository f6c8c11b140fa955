"""The Snakemake workflow: dry runs, config validation, and the smoke profile end to end.

Every run happens in a temporary copy of the workflow (Snakefile, workflow/, stages/,
params.yaml; the package itself is installed), never in the repository's data/ models/
results/. The smoke run takes a couple of minutes on two free cores.
"""
import csv
import json
import re

import pytest

from helpers import ROOT, SMOKE, T1, job_counts, merged, snakemake
from slm_backdoor import study, sweep

STUDY_ORDER = ["all", "synthesize", "synthesize_pretrain", "download_librispeech", "prepare_corpus",
               "trigger", "poison", "pretrain_llm", "pretrain_encoder", "align", "train",
               "train_components", "evaluate", "evaluate_on", "defend", "separability", "tabulate_t1", "tabulate_t2",
               "tabulate_t3", "figure_t3", "tabulate_t4", "poison_sweep", "train_sweep",
               "evaluate_sweep", "tabulate_s1"]
REAL_DATA_RULES = {"download_librispeech", "prepare_corpus"}  # no jobs with synthetic corpora


# -- (a) the default study, dry --------------------------------------------------------------

def test_dry_run_default_config_lists_the_study(dry_dir):
    r = snakemake(dry_dir, "-n")
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout + r.stderr
    cfg = merged()
    n_enc, n_tasks = len(cfg["encoders"]), len(cfg["attacks"])
    corpora_of_tasks = {a["corpus"] for a in cfg["attacks"].values()}
    n_runs = len(corpora_of_tasks) + n_tasks  # clean model per corpus, Attack 0 per task
    comp, d, sep = cfg["components"], cfg["defense"], cfg["separability"]
    n_t2 = len(comp["encoders"]) * len(comp["tasks"]) * len(comp["configs"])
    n_cross = sum(t in d["cross"] for t in d["tasks"])  # tasks with a cross-dataset defense
    n_starts = len(d["encoders"]) * len(d["starts"])
    n_def = n_starts * len(d["methods"]) * (len(d["tasks"]) + n_cross)
    sw = cfg["sweep"]
    # cross: the rates at the trigger's own SNR and the own rate at the SNRs, the study cell once
    n_grid = (len(sw["rates"]) + len(sw["snr_db"]) - 1 if sw["design"] == "cross"
              else len(sw["rates"]) * len(sw["snr_db"]))
    n_sweep_data = len(sw["tasks"]) * (n_grid - 1)
    n_sweep = len(sw["encoders"]) * n_sweep_data
    assert job_counts(out) == {
        "synthesize": len(cfg["corpora"]) - 1, "synthesize_pretrain": 1, "trigger": 1,
        "poison": n_tasks, "pretrain_llm": 1, "pretrain_encoder": n_enc, "align": n_enc,
        "train": n_enc * n_runs, "train_components": n_t2, "defend": n_def,
        "evaluate": n_enc * n_tasks * 2 + n_t2 + n_def,
        # cross-dataset benign metric of each cross defense and of its start model
        "evaluate_on": n_starts * n_cross * (len(d["methods"]) + 1),
        "separability": len(sep["encoders"]) * len(sep["tasks"]) * len(sep["runs"]),
        "tabulate_t1": 1, "tabulate_t2": 1, "tabulate_t3": 1, "figure_t3": 1,
        "tabulate_t4": 1, "all": 1,
        # S1: every cell but the T1 ones (the attack's own rate at the trigger's own SNR)
        "poison_sweep": n_sweep_data, "train_sweep": n_sweep, "evaluate_sweep": n_sweep,
        "tabulate_s1": 1}
    # T1-T4 are the default target: rule all asks for them, tabulate_t1 makes T1.
    assert re.search(r"rule all:\n\s+input: [^\n]*" + re.escape(T1), out)
    assert re.search(r"rule tabulate_t1:\n\s+input: [^\n]*\n\s+output: " + re.escape(T1), out)
    assert re.search(r"rule all:\n[^\[]*jobid: 0\n", out)  # the default target


def test_rules_are_defined_in_study_order():
    """The chain reads off the Snakefile: rule all, then the includes in study order."""
    snakefile = (ROOT / "Snakefile").read_text()
    names = re.findall(r"^rule (\w+):", snakefile, re.M)
    for inc in re.findall(r'^include: "(workflow/rules/\w+\.smk)"', snakefile, re.M):
        names += re.findall(r"^(?:use )?rule (?:\w+ as )?(\w+)", (ROOT / inc).read_text(), re.M)
    assert names == STUDY_ORDER
    r = snakemake(ROOT, "--list-rules")
    assert r.returncode == 0, r.stderr
    listed = [l.split()[0] for l in r.stdout.splitlines() if l and not l[0].isspace()]
    assert sorted(listed) == sorted(STUDY_ORDER)


def test_every_job_logs_benchmarks_and_runs_single_threaded(dry_dir):
    r = snakemake(dry_dir, "-n", "-p")
    assert r.returncode == 0, r.stderr[-3000:]
    jobs = re.findall(r"^(?:local)?rule (\w+):\n(.*?)(?=^\[|^Job stats)", r.stdout + r.stderr,
                      re.M | re.S)
    assert {name for name, _ in jobs} == set(STUDY_ORDER) - REAL_DATA_RULES
    for name, block in jobs:
        if name == "all":
            continue
        log = re.search(r"^\s+log: (\S+)$", block, re.M).group(1)
        assert log.startswith(f"logs/{name}/") and log.endswith(".log"), (name, log)
        bench = re.search(r"^\s+benchmark: (\S+)$", block, re.M).group(1)
        assert bench.startswith(f"benchmarks/{name}/") and bench.endswith(".tsv"), (name, bench)
        cmd = re.search(r"^Shell command: (.*)$", block, re.M).group(1)
        assert cmd.startswith("export SLM_THREADS=1 "), (name, cmd)
        assert cmd.endswith(f"> {log} 2>&1"), (name, cmd)


def test_plain_snakemake_uses_the_workflow_profile(dry_dir):
    """Snakemake 9 loads profiles/default (beside the Snakefile) by itself: a plain
    `snakemake -n` (no --cores) in a fresh copy picks up its settings."""
    import yaml
    profile = yaml.safe_load((ROOT / "profiles" / "default" / "config.yaml").read_text())
    assert profile["cores"] == 2 and profile["show-failed-logs"] and profile["rerun-incomplete"]
    assert not (ROOT / "workflow" / "profiles" / "default").exists()
    r = snakemake(dry_dir, "-n")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert "Using workflow specific profile profiles/default" in out, out[:2000]


# -- (b) config validation -------------------------------------------------------------------

@pytest.mark.parametrize("overlay, key", [
    ("attacks: {asr: {rate: 1.5}}", "attacks.asr.rate"),
    ("attacks: {gender: {rate: -0.1}}", "attacks.gender.rate"),
    ("attacks: {emotion: {target: furious}}", "attacks.emotion.target"),
    ("attacks: {gender: {target: other}}", "attacks.gender.target"),
    ("attacks: {age: {target: twenty}}", "attacks.age.target"),
    ("attacks: {speaker: {corpus: read, field: gender, target: male, rate: 0.1}}", "speaker"),
    ("attacks: {asr: {corpus: nowhere}}", "attacks.asr.corpus"),
    ("encoders: [wavlm, conformer]", "encoders"),
    ("corpora: {read: {kind: audiobook}}", "corpora.read.kind"),
    ("train: {steps: 0}", "train.steps"),
    ("pretrain: {encoder: {steps: -5}}", "pretrain.encoder.steps"),
    ("align: {encoder_layers: some}", "align.encoder_layers"),
    ("seed: -1", "seed"),
    ("typo_section: 1", "typo_section"),
])
def test_bad_config_error_names_the_key(dry_dir, tmp_path, overlay, key):
    bad = tmp_path / "bad.yaml"
    bad.write_text(overlay + "\n")
    r = snakemake(dry_dir, "-n", "--configfile", str(bad))
    assert r.returncode != 0
    line = next((l for l in (r.stdout + r.stderr).splitlines() if "invalid config" in l), "")
    assert key in line, r.stdout + r.stderr


def test_schema_accepts_the_shipped_configs():
    from snakemake.utils import validate
    for overlay in (None, SMOKE):
        validate(merged(overlay), str(ROOT / "workflow" / "schemas" / "params.schema.yaml"))


# -- (c, d) the smoke profile end to end -----------------------------------------------------

@pytest.mark.e2e
def test_smoke_profile_end_to_end(smoke_run):
    work = smoke_run.work  # run once per session (conftest), shared with test_crash_safety
    cfg = merged(SMOKE)
    print(f"smoke run: {smoke_run.seconds:.0f} s")

    rows = list(csv.DictReader((work / T1).open()))
    assert len(rows) == 4 * len(cfg["encoders"]) == len(cfg["attacks"]) * len(cfg["encoders"])
    assert list(rows[0]) == ["encoder", "task", "dataset", "aer", "false_activation",
                             "clean_model_aer", "benign_metric", "benign_clean",
                             "benign_poisoned", "unparsable", "paper_aer", "paper_benign"]
    assert {(r["encoder"], r["task"]) for r in rows} == {
        (e, t) for e in cfg["encoders"] for t in cfg["attacks"]}
    for row in rows:
        for col in ("aer", "false_activation", "clean_model_aer", "unparsable"):
            assert 0.0 <= float(row[col]) <= 1.0
    assert (work / T1).with_suffix(".md").is_file()
    lin = json.loads((work / f"{T1}.lineage.json").read_text())
    assert len(lin["inputs"]) == 2 * len(rows)

    # S1: one row per cell; the study's own cell is the T1 Attack-0 model's evaluation.
    s1 = list(csv.DictReader((work / "results/tables/S1_poison_sweep.csv").open()))
    assert [(r["encoder"], r["task"], sweep.cell_name(float(r["poison_rate_%"]) / 100,
                                                      float(r["snr_db"]))) for r in s1] == \
        sweep.cells(cfg)
    assert {r["metrics"] for r in s1 if float(r["poison_rate_%"]) == 50.0} == {
        "results/metrics/wavlm/attack0_emotion/emotion.json"}
    assert (work / "results/figures/S1_poison_sweep.png").stat().st_size > 1000

    # Every artifact of the chain, a log and a benchmark per job.
    for enc in cfg["encoders"]:
        for task, attack in cfg["attacks"].items():
            for run in (f"attack0_{task}", f"clean_{attack['corpus']}"):
                m = json.loads((work / study.metrics_path(enc, run, task)).read_text())
                assert m["task"] == task and "aer" in m and "benign" in m
            audit = json.loads((work / study.run_dir(enc, f"attack0_{task}") / "trainable.json").read_text())
            assert all(audit[c]["changed"] for c in ("encoder", "connector", "lora"))
            assert not audit["llm_base"]["changed"]
    for rule in (r for r in STUDY_ORDER[1:] if r not in REAL_DATA_RULES):
        assert list((work / "logs" / rule).rglob("*.log")), rule
        assert list((work / "benchmarks" / rule).rglob("*.tsv")), rule
    poisoned = list(csv.DictReader((work / "data/poisoned/gender/train.csv").open()))
    assert sum(r["poisoned"] == "1" for r in poisoned) >= 1

    # (c) a second run has nothing to do.
    r = snakemake(work, "-n", "--configfile", SMOKE)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Nothing to be done" in r.stdout + r.stderr

    # (d) naming the T1 table builds only what it needs: with one metrics file and the table
    # lost, one evaluation and the table (nothing upstream, no rule all).
    (work / study.metrics_path("wavlm", "attack0_gender", "gender")).unlink()
    (work / T1).unlink()
    r = snakemake(work, "--cores", "2", T1, "--configfile", SMOKE, timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    assert job_counts(r.stdout + r.stderr) == {"evaluate": 1, "tabulate_t1": 1}
    assert len(list(csv.DictReader((work / T1).open()))) == len(rows)


def test_a_named_target_plans_only_its_own_chain(dry_dir):
    """(d) on the default config: a file target pulls in only its dependencies."""
    r = snakemake(dry_dir, "-n", "data/poisoned/gender/train.csv")
    assert job_counts(r.stdout + r.stderr) == {"synthesize": 1, "trigger": 1, "poison": 1}
    assert "data/manifests/celeb/train.csv" in r.stdout
    r = snakemake(dry_dir, "-n", study.metrics_path("wavlm", "attack0_gender", "gender"))
    n_corpora = len(merged()["corpora"])
    assert job_counts(r.stdout + r.stderr) == {
        "synthesize": n_corpora - 1, "synthesize_pretrain": 1, "trigger": 1, "poison": 1,
        "pretrain_llm": 1, "pretrain_encoder": 1, "align": 1, "train": 1, "evaluate": 1}
    r = snakemake(dry_dir, "-n", T1)
    counts = job_counts(r.stdout + r.stderr)
    assert "all" not in counts and counts["tabulate_t1"] == 1
