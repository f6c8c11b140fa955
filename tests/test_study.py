"""The study plan (slm_backdoor.study) on the shipped configs, without Snakemake: run names
and phases, paths, the run specs of T1-T3 (docs/DESIGN.md s4), the table rows, config checks."""
import copy

import pytest

from helpers import ROOT, SMOKE, merged
from slm_backdoor import study

SCHEMA = str(ROOT / "workflow" / "schemas" / "params.schema.yaml")


@pytest.fixture(scope="module")
def cfg():
    c = merged(SMOKE)
    study.check_config(c, SCHEMA)  # fills in the schema's defaults, as the Snakefile does
    return c


def test_run_names_and_phases(cfg):
    runs = study.study_runs(cfg)
    assert len(runs) == len(set(runs))
    assert "clean_read" in runs and "attack0_emotion" in runs and "3E_gender" in runs
    assert "def_3E_partial_cross_emotion" in runs
    assert study.config_run("1.E", "emotion") == "1E_emotion"
    assert study.config_run("0", "asr") == "attack0_asr"
    assert study.defense_run("3.E", "lora", "in", "age") == "def_3E_lora_in_age"
    assert study.defense_task("def_3E_lora_in_age") == "age"
    assert {study.run_phase(r) for r in runs} == {"runs", "components", "defense"}
    for phase in ("runs", "components", "defense"):
        assert all(study.run_phase(r) == phase for r in study.phase_runs(cfg, phase))
    assert sum(len(study.phase_runs(cfg, p)) for p in ("runs", "components", "defense")) == len(runs)


def test_paths():
    assert study.run_dir("wavlm", "clean_read") == "models/runs/wavlm/clean_read"
    assert study.run_dir("wavlm", "2P_asr") == "models/components/wavlm/2P_asr"
    assert study.run_dir("hubert", "def_attack0_full_in_asr") == \
        "models/defense/hubert/def_attack0_full_in_asr"
    assert study.metrics_path("wavlm", "attack0_age", "age") == \
        "results/metrics/wavlm/attack0_age/age.json"
    assert study.metrics_on("wavlm", "r", "emotion", "acted2") == \
        "results/metrics/wavlm/r/emotion_on_acted2.json"
    assert study.with_csv("results/metrics/a/b/c.json") == "results/metrics/a/b/c.csv"
    assert study.lineage("x/y.csv") == "x/y.csv.lineage.json"
    assert study.poisoned("gender", "test") == "data/poisoned/gender/test_triggered.csv"


def test_t1_runs_train_everything_from_the_usual_init(cfg):
    corpus = study.corpus_of(cfg, "gender")
    for run, train, trigger in ((f"clean_{corpus}", f"data/manifests/{corpus}/train.csv", None),
                                ("attack0_gender", "data/poisoned/gender/train.csv", study.TRIGGER)):
        s = study.run_spec(cfg, "wavlm", run)
        assert (s["encoder"], s["connector"], s["lora"]) == (
            "models/pretrained/encoder_wavlm", "models/aligned/wavlm/connector",
            "models/aligned/wavlm/lora")
        assert s["train_connector"] and s["train_lora"] and s["train_encoder"] != 0
        assert (s["train_manifest"], s["trigger"]) == (train, trigger)
        assert s["cfg"] == cfg["train"]


@pytest.mark.parametrize("config, sources, trains, data", [
    ("1E", ("clean", "usual", "usual"), {"connector", "lora"}, "poisoned"),
    ("2L", ("clean", "clean", "clean"), {"lora"}, "poisoned"),
    ("3E", ("poisoned", "usual", "usual"), {"connector", "lora"}, "clean"),
    ("3P", ("usual", "poisoned", "usual"), {"encoder", "lora"}, "clean"),
])
def test_component_configurations(cfg, config, sources, trains, data):
    """docs/DESIGN.md s4: where each component comes from, what trains, on which data."""
    task = "emotion"
    corpus = study.corpus_of(cfg, task)
    usual = study.usual_init(cfg, "wavlm")
    s = study.run_spec(cfg, "wavlm", f"{config}_{task}")
    for comp, kind in zip(study.COMPONENTS, sources):
        run = {"clean": f"clean_{corpus}", "poisoned": f"attack0_{task}"}.get(kind)
        want = usual[comp] if kind == "usual" else f"{study.run_dir('wavlm', run)}/{comp}"
        assert s[comp] == want, comp
    assert {c for c in study.COMPONENTS if s[f"train_{c}"]} == trains
    assert s["train_manifest"] == (study.poisoned(task) if data == "poisoned"
                                   else study.manifest(corpus, "train"))
    assert s["cfg"] == {**cfg["train"], **(cfg["components"].get("train") or {})}


def test_defense_spec(cfg):
    task = next(iter(cfg["defense"]["cross"]))
    s = study.run_spec(cfg, "wavlm", f"def_3E_partial_cross_{task}")
    assert s["encoder"] == f"{study.run_dir('wavlm', '3E_' + task)}/encoder"
    assert {c for c in study.COMPONENTS if s[f"train_{c}"]} == {"connector", "lora"}
    assert s["train_manifest"] == study.manifest(cfg["defense"]["cross"][task], "train")
    assert s["cfg"] == {**cfg["train"], **cfg["defense"]["train"]}
    with pytest.raises(ValueError, match="unknown run"):
        study.run_spec(cfg, "wavlm", "nothing_asr")


def test_spec_inputs_and_args(cfg):
    s = study.run_spec(cfg, "wavlm", "1E_gender")
    inputs = study.spec_inputs(cfg, s)
    corpus = study.corpus_of(cfg, "gender")
    assert inputs == {"llm": "models/pretrained/llm", "train": study.poisoned("gender"),
                      "dev": study.manifest(corpus, "dev"),
                      "encoder_source": study.run_dir("wavlm", f"clean_{corpus}"),
                      "connector_source": "models/aligned/wavlm", "trigger": study.TRIGGER}
    args = study.spec_args(cfg, s).split()
    assert args[args.index("--encoder") + 1] == f"models/runs/wavlm/clean_{corpus}/encoder"
    assert args[args.index("--train-encoder") + 1] == "0"
    assert args[-4:] == ["--trigger", study.TRIGGER, "--task-field", "gender"]
    clean = study.spec_args(cfg, study.run_spec(cfg, "wavlm", f"clean_{corpus}")).split()
    assert "--task-field" not in clean  # the clean multitask model has no task
    align = study.align_spec(cfg, "whisper")
    assert study.spec_inputs(cfg, align)["encoder_source"] == "models/pretrained/encoder_whisper"


def test_table_rows_name_study_runs(cfg):
    runs = set(study.study_runs(cfg))
    t2 = study.t2_rows(cfg)
    assert len(t2) == (len(cfg["components"]["encoders"]) * len(cfg["components"]["tasks"])
                       * (1 + len(cfg["components"]["configs"])))
    t3 = study.t3_rows(cfg)
    assert all(r["run"] in runs for r in t3)
    cross = next(r for r in t3 if r["domain"] == "cross")
    assert cross["after_domain"] == study.metrics_on(cross["encoder"], cross["run"],
                                                     cross["task"], cross["dataset"])
    t4 = study.t4_rows(cfg)
    assert all(r["separability"].split("/")[3] in runs for r in t4)
    assert study.row_files([{"a": "y"}, {"a": "x"}, {"a": "y"}], ("a",)) == ["x", "y"]
    assert len(study.t1_metrics(cfg)) == 2 * len(cfg["encoders"]) * len(cfg["attacks"])


@pytest.mark.parametrize("change, key", [
    (lambda c: c["attacks"]["asr"].update(corpus="nowhere"), "attacks.asr.corpus"),
    (lambda c: c["defense"]["tasks"].append("speaker"), "defense.tasks"),
    (lambda c: c["defense"]["cross"].update(asr="pretrain"), "defense.cross.asr"),
    (lambda c: c.update(seed=-1), "seed"),
    (lambda c: c["pretrain"]["encoder"].update(steps={"wavlm": 10}), "pretrain.encoder.steps"),
    (lambda c: c["pretrain"]["llm"].update(steps={"wavlm": 10, "hubert": 10, "wav2vec2": 10,
                                                  "whisper": 10}), "pretrain.llm"),
])
def test_check_config_names_the_key(cfg, change, key):
    bad = copy.deepcopy(cfg)
    change(bad)
    with pytest.raises(study.ConfigError, match=f"invalid config: {key}"):
        study.check_config(bad, SCHEMA)


def test_encoder_pretraining_steps_per_family():
    tiny = merged()
    study.check_config(tiny, SCHEMA)
    assert study.encoder_pretraining(tiny, "whisper") == tiny["pretrain"]["encoder"]  # one number
    per = copy.deepcopy(tiny)
    per["pretrain"]["encoder"]["steps"] = {"wavlm": 5, "hubert": 6, "wav2vec2": 7, "whisper": 8}
    study.check_config(per, SCHEMA)
    assert {f: study.encoder_pretraining(per, f)["steps"] for f in study.encoder_families(per)} \
        == per["pretrain"]["encoder"]["steps"]
    rest = {k: v for k, v in tiny["pretrain"]["encoder"].items() if k != "steps"}
    assert {k: v for k, v in study.encoder_pretraining(per, "whisper").items()
            if k != "steps"} == rest
