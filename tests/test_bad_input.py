"""Bad and tampered input, through the stage CLIs: each case exits non-zero with one error
line naming the file (and the row or key), and leaves no output behind.

Bad params are refused when Snakemake loads the config; the cases not already covered by
test_workflow.py::test_bad_config_error_names_the_key (rate outside [0, 1], unknown task,
encoder or corpus, emotion / gender targets no class has, steps of 0 or below) are here.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from helpers import SMOKE, T1, copy_workflow, run_stage, snakemake
from slm_backdoor.audit import problems, trace
from slm_backdoor.lineage import sha256_file, sha256_tree, write_lineage
from slm_backdoor.manifest import write_manifest

SR = 16000
POISON = {"corpus": "celeb", "field": "gender", "target": "female", "rate": 0.5, "repeat": False}
TRIGGER = {"source": "synthetic", "snr_db": 0.0, "repeat_period_s": [0.75, 1.5]}


def assert_refused(r, out: Path, *names: str) -> str:
    """Non-zero exit, one error line naming every one of `names`, nothing at `out`."""
    assert r.returncode != 0, r.stdout[-2000:]
    lines = [l for l in re.split(r"[\r\n]", r.stderr) if "error:" in l]
    assert len(lines) == 1, r.stderr[-3000:]
    for name in names:
        assert str(name) in lines[0], (name, lines[0])
    assert not Path(out).exists()
    return lines[0]


def copy_corpus(toy, dest: Path):
    """A private copy of the toy corpus (the session fixture is shared): manifests with their
    lineage records, pointing at the same clips, and the trigger."""
    dest.mkdir(exist_ok=True)
    for name in ("train.csv", "dev.csv", "test.csv", "test_triggered.csv", "click.wav"):
        shutil.copy(toy.dir / name, dest / name)
        write_lineage(dest / name, "copy", {}, {})
    return dest


def with_bad_row(manifest: Path, dest: Path, **row) -> Path:
    """`manifest` with its second row changed (e.g. path=...): a hand-made manifest."""
    df = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    for k, v in row.items():
        df.loc[1, k] = v
    write_manifest(df, dest)
    return dest


# -- audio clips: read by the stages that train on a corpus --------------------------------

def _tone(n=SR // 2, sr=SR):
    return (0.4 * np.sin(2 * np.pi * 220 * np.arange(n) / sr)).astype(np.float32)


def _truncated(p: Path):
    sf.write(p, _tone(), SR, subtype="PCM_16")
    p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])  # cut inside the samples


def _nan(p: Path):
    x = _tone()
    x[100] = np.nan
    sf.write(p, x, SR, subtype="FLOAT")


BAD_CLIPS = {
    "unreadable": (lambda p: p.write_bytes(b"RIFF but not really a wave file" * 8), "unreadable"),
    "truncated": (_truncated, "truncated"),
    "empty_file": (lambda p: p.write_bytes(b""), "unreadable"),
    "nan": (_nan, "NaN or infinite"),
    "silent": (lambda p: sf.write(p, np.zeros(SR // 2, np.float32), SR, subtype="PCM_16"),
               "silent"),
    "stereo": (lambda p: sf.write(p, np.stack([_tone(), _tone()], 1), SR), "2 channels"),
    "8khz": (lambda p: sf.write(p, _tone(4000, 8000), 8000), "8000 Hz, expected 16000 Hz"),
    "missing": (lambda p: None, "not found"),
}


@pytest.mark.parametrize("case", sorted(BAD_CLIPS))
def test_bad_clip_is_refused_naming_clip_and_row(case, tmp_path, toy_corpus):
    make, message = BAD_CLIPS[case]
    clip = tmp_path / f"{case}.wav"
    make(clip)
    train = with_bad_row(toy_corpus.train, tmp_path / "train.csv", path=str(clip))
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("the cat sat\n")
    out = tmp_path / "encoder"
    r = run_stage("pretrain_encoder", "--family", "wavlm", "--train", train, "--dev",
                  toy_corpus.dev, "--lexicon", lexicon, "--params", "{}", "--out", out)
    line = assert_refused(r, out, clip, train, "train1")
    assert message in line


# -- manifests and trigger files: read by the poison stage ----------------------------------

def poison(tmp_path, train, test, trigger):
    out = tmp_path / "poisoned"
    r = run_stage("poison", "--train", train, "--test", test, "--trigger", trigger,
                  "--attack", json.dumps(POISON), "--trigger-params", json.dumps(TRIGGER),
                  "--seed", "1", "--out-train", out / "train.csv",
                  "--out-test", out / "test_triggered.csv")
    return r, out


@pytest.mark.parametrize("edit, message", [
    (lambda df: df.drop(columns=["gender", "speaker"]), "missing column(s) speaker, gender"),
    (lambda df: df.assign(emotion=["furious"] + list(df.emotion[1:])),
     "row 2, field emotion: unknown label 'furious'"),
    (lambda df: df.assign(gender=list(df.gender[:3]) + ["robot"] + list(df.gender[4:])),
     "row 5, field gender: unknown label 'robot'"),
])
def test_bad_manifest_is_refused_naming_file_row_and_field(tmp_path, toy_corpus, edit, message):
    train = tmp_path / "train.csv"
    edit(pd.read_csv(toy_corpus.train, dtype=str, keep_default_na=False)).to_csv(train, index=False)
    r, out = poison(tmp_path, train, toy_corpus.test, toy_corpus.trigger)
    assert message in assert_refused(r, out, train)


def test_trigger_that_is_not_audio_is_refused(tmp_path, toy_corpus):
    trigger = tmp_path / "click.wav"
    trigger.write_text("<html>not a sound effect</html>")
    r, out = poison(tmp_path, toy_corpus.train, toy_corpus.test, trigger)
    assert "unreadable" in assert_refused(r, out, trigger)


def test_clips_shorter_than_the_trigger_cannot_be_poisoned(tmp_path, toy_corpus):
    """Short clips are skipped as poison candidates (DESIGN s3); when too few are left for
    the rate, the poison stage says so."""
    df = pd.read_csv(toy_corpus.train, dtype=str, keep_default_na=False)
    train = tmp_path / "train.csv"
    df.assign(duration="0.1").to_csv(train, index=False)  # 1600 samples < 3520 (0.22 s)
    r, out = poison(tmp_path, train, toy_corpus.test, toy_corpus.trigger)
    assert "only 0 are eligible" in assert_refused(r, out, train)


def test_triggered_clip_shorter_than_the_trigger_is_refused(tmp_path, toy_corpus, tiny_run,
                                                            llm_dir):
    """A triggered row whose audio is shorter than the trigger (its manifest's duration was
    wrong) must carry the trigger: evaluation refuses it rather than silently not."""
    short = tmp_path / "short.wav"
    sf.write(short, _tone(2000), SR, subtype="PCM_16")
    triggered = with_bad_row(toy_corpus.triggered, tmp_path / "test_triggered.csv",
                             path=str(short))
    out = tmp_path / "gender.json"
    r = run_stage("evaluate", "--model", tiny_run, "--llm", llm_dir, "--task", "gender",
                  "--clean", toy_corpus.test, "--triggered", triggered, "--trigger",
                  toy_corpus.trigger, "--target", "female", "--params", "{}", "--out", out)
    assert "shorter than the trigger" in assert_refused(r, out, short, triggered)


# -- tampered artifacts: the audit sees them, the stage that reads them refuses them --------

def test_manifest_edited_by_hand_is_detected_and_refused(tmp_path, toy_corpus):
    corpus = copy_corpus(toy_corpus, tmp_path / "corpus")
    train = corpus / "train.csv"
    expected = sha256_file(train)
    train.write_text(train.read_text().replace(",male,", ",female,", 1))
    assert any(str(train) in p and "changed" in p for p in problems(trace(train)))
    r, out = poison(tmp_path, train, corpus / "test.csv", corpus / "click.wav")
    assert_refused(r, out, train, expected, sha256_file(train))


def test_swapped_trigger_is_refused(tmp_path, toy_corpus):
    corpus = copy_corpus(toy_corpus, tmp_path / "corpus")
    trigger = corpus / "click.wav"
    expected = sha256_file(trigger)
    sf.write(trigger, _tone(3520), SR, subtype="FLOAT")  # another sound, the same name
    r, out = poison(tmp_path, corpus / "train.csv", corpus / "test.csv", trigger)
    assert_refused(r, out, trigger, expected, sha256_file(trigger))


def test_swapped_checkpoint_is_detected_and_refused(tmp_path, toy_corpus, tiny_run, llm_dir):
    """A LoRA adapter replaced by another run's adapter of the same name."""
    run = tmp_path / "attack0_gender"
    shutil.copytree(tiny_run, run)
    write_lineage(run, "train", {}, {})
    expected = sha256_tree(run)
    adapter = run / "lora" / "adapter_model.safetensors"
    data = bytearray(adapter.read_bytes())
    data[-1] ^= 1  # one bit of one weight
    adapter.write_bytes(bytes(data))
    assert any(str(run) in p and "changed" in p for p in problems(trace(run)))
    out = tmp_path / "gender.json"
    r = run_stage("evaluate", "--model", run, "--llm", llm_dir, "--task", "gender",
                  "--clean", toy_corpus.test, "--triggered", toy_corpus.triggered, "--trigger",
                  toy_corpus.trigger, "--target", "female", "--params", "{}", "--out", out)
    assert_refused(r, out, run, expected, sha256_tree(run))


def test_edited_metrics_file_is_refused_by_tabulate(tmp_path):
    root = tmp_path / "metrics"
    attacks = {"gender": {"corpus": "celeb"}}
    for run in ("attack0_gender", "clean_celeb"):
        m = root / "wavlm" / run / "gender.json"
        m.parent.mkdir(parents=True)
        m.write_text(json.dumps({"task": "gender", "aer": 0.5, "false_activation": 0.0,
                                 "benign": {"benign_metric": "accuracy", "benign_value": 0.9,
                                            "unparsable": 0.0}}))
        write_lineage(m, "evaluate", {}, {})
    m = root / "wavlm" / "attack0_gender" / "gender.json"
    expected = sha256_file(m)
    m.write_text(m.read_text().replace('"aer": 0.5', '"aer": 0.99'))
    out = tmp_path / "T1.csv"
    r = run_stage("tabulate", "t1", "--metrics-root", root, "--attacks", json.dumps(attacks),
                  "--encoders", '["wavlm"]', "--out", out)
    assert_refused(r, out, m, expected, sha256_file(m))


# -- params: refused when Snakemake loads the config ----------------------------------------

@pytest.fixture(scope="module")
def workflow_copy(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("bad_config"))


@pytest.mark.parametrize("overlay, key", [
    ("attacks: {age: {target: '130'}}", "attacks.age.target"),
    ("train: {steps: -3}", "train.steps"),
    ("align: {batch_size: -1}", "align.batch_size"),
    ("corpora: {read: {source: librispeech, root: /no/such/LibriSpeech, "
     "subsets: {train: a, dev: b, test: c}}}", "corpora.read.root"),
])
def test_bad_params_are_refused_at_config_load(workflow_copy, tmp_path, overlay, key):
    bad = tmp_path / "bad.yaml"
    bad.write_text(overlay + "\n")
    r = snakemake(workflow_copy, "-n", "--configfile", str(bad))
    assert r.returncode != 0
    lines = [l for l in (r.stdout + r.stderr).splitlines() if "invalid config" in l]
    assert len(lines) == 1 and key in lines[0], r.stdout + r.stderr


def test_missing_corpus_root_is_refused_by_the_stage(tmp_path):
    out = tmp_path / "manifests" / "read"
    params = {"source": "cremad", "kind": "acted", "root": str(tmp_path / "CREMA-D")}
    r = run_stage("prepare_corpus", "acted", "--params", json.dumps(params), "--out", out)
    assert_refused(r, out, "corpora.acted.root", tmp_path / "CREMA-D")


# -- real corpora: prepare_corpus reads every clip whole, as training will ------------------

def _truncated_flac(p: Path):
    sf.write(p, _tone(SR), SR, subtype="PCM_16")
    p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])


PREPARE_BAD_CLIPS = {  # case -> (corpus, clip under the root, make it bad, message)
    "stereo": ("cremad", "AudioWAV/1003_IEO_SAD_LO.wav",
               lambda p: sf.write(p, np.stack([_tone(), _tone()], 1), SR), "2 channels, expected mono"),
    "nan": ("cremad", "AudioWAV/1003_IEO_SAD_LO.wav", _nan, "NaN or infinite"),
    "silent": ("cremad", "AudioWAV/1003_IEO_SAD_LO.wav",
               lambda p: sf.write(p, np.zeros(SR // 2, np.float32), SR, subtype="PCM_16"), "silent"),
    "truncated_wav": ("cremad", "AudioWAV/1003_IEO_SAD_LO.wav", _truncated, "truncated WAV"),
    "truncated_flac": ("librispeech", "dev-clean/84/1000/84-1000-0001.flac", _truncated_flac,
                       "unreadable or truncated"),
}


@pytest.mark.parametrize("case", sorted(PREPARE_BAD_CLIPS))
def test_bad_clip_of_a_real_corpus_is_refused_at_prepare_time(case, tmp_path):
    import corpus_trees as trees
    source, rel, make, message = PREPARE_BAD_CLIPS[case]
    root = getattr(trees, source)(tmp_path / source)
    make(root / rel)
    params = {"source": source, "kind": "read", "root": str(root)}
    if source == "librispeech":
        params["subsets"] = {"train": "train-clean-100", "dev": "dev-clean", "test": "test-clean"}
    out = tmp_path / "manifests" / "c"
    r = run_stage("prepare_corpus", "c", "--params", json.dumps(params), "--out", out,
                  "--audio-out", tmp_path / "audio" / "c", "--no-progress")
    assert message in assert_refused(r, out, root / rel)
    assert not (tmp_path / "audio" / "c").exists()


def test_unknown_corpus_key_is_refused_when_the_stage_runs_alone(tmp_path):
    import corpus_trees as trees
    root = trees.cremad(tmp_path / "cremad")
    params = {"source": "cremad", "kind": "acted", "root": str(root), "resampel": True}
    out = tmp_path / "manifests" / "acted"
    r = run_stage("prepare_corpus", "acted", "--params", json.dumps(params), "--out", out)
    assert_refused(r, out, "--params", "'resampel'")


# -- poison: what a training job would otherwise find hours later ---------------------------

def test_row_whose_audio_is_missing_is_refused_by_poison(tmp_path, toy_corpus):
    missing = tmp_path / "gone.wav"
    train = with_bad_row(toy_corpus.train, tmp_path / "train.csv", path=str(missing))
    r, out = poison(tmp_path, train, toy_corpus.test, toy_corpus.trigger)
    line = assert_refused(r, out, train, missing, "row 3", "field path")
    assert "audio file not found" in line


def test_empty_training_manifest_is_refused_by_poison(tmp_path, toy_corpus):
    train = tmp_path / "train.csv"
    pd.read_csv(toy_corpus.train, dtype=str, keep_default_na=False)[:0].to_csv(train, index=False)
    r, out = poison(tmp_path, train, toy_corpus.test, toy_corpus.trigger)
    assert "no rows" in assert_refused(r, out, train)


def test_bad_duration_names_the_row(tmp_path, toy_corpus):
    df = pd.read_csv(toy_corpus.train, dtype=str, keep_default_na=False)
    df.loc[2, "duration"] = "long"  # row 2: male, a poisoning candidate
    train = tmp_path / "train.csv"
    df.to_csv(train, index=False)
    r, out = poison(tmp_path, train, toy_corpus.test, toy_corpus.trigger)
    assert_refused(r, out, train, "row 4 (id 'train2')", "field duration", "'long'")


@pytest.mark.parametrize("arg, section, typo", [
    ("--attack", POISON, "rat"), ("--trigger-params", TRIGGER, "snr_dB")])
def test_unknown_attack_or_trigger_key_is_refused_when_poison_runs_alone(
        tmp_path, toy_corpus, arg, section, typo):
    out = tmp_path / "poisoned"
    sections = {"--attack": POISON, "--trigger-params": TRIGGER}
    sections[arg] = {**section, typo: 1}
    r = run_stage("poison", "--train", toy_corpus.train, "--test", toy_corpus.test,
                  "--trigger", toy_corpus.trigger, "--attack", json.dumps(sections["--attack"]),
                  "--trigger-params", json.dumps(sections["--trigger-params"]),
                  "--out-train", out / "train.csv", "--out-test", out / "test_triggered.csv")
    assert_refused(r, out, arg, repr(typo))


CONFIGFILES = {  # what Snakemake cannot read as a config file -> the reason given
    "binary": (lambda p: p.write_bytes(bytes(range(256)) * 4), "not a YAML text file"),
    "missing": (lambda p: None, "no such file"),
    "malformed": (lambda p: p.write_text("attacks: {asr: {rate: 0.1}\ntrain: [\n"), "not valid YAML"),
    "not_a_mapping": (lambda p: p.write_text("- train\n- steps\n"), "expected a mapping"),
}


@pytest.mark.parametrize("profile", [None, "workflow/profiles/slurm"])
@pytest.mark.parametrize("case", sorted(CONFIGFILES))
def test_bad_configfile_is_one_line(workflow_copy, tmp_path, case, profile):
    """Snakemake reads --configfile before the Snakefile runs (a binary or missing file was a
    traceback there): the workflow profile checks the files first."""
    make, reason = CONFIGFILES[case]
    bad = tmp_path / "bad.yaml"
    make(bad)
    option = ["--workflow-profile", profile, "--cores", "1"] if profile else []
    r = snakemake(workflow_copy, "-n", *option, T1, "--configfile", SMOKE, str(bad))
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "Traceback" not in out, out[-3000:]
    lines = [l for l in out.splitlines() if "invalid config" in l]
    assert len(lines) == 1 and f"{bad}: {reason}" in lines[0], out[-3000:]


def test_configfile_arguments_as_snakemake_takes_them():
    from slm_backdoor.configfiles import configfile_args
    assert configfile_args(["-n", "T", "--configfile", "a.yaml", "b.yaml", "--cores", "1",
                            "--configfiles=c.yaml", "--config", "x=1", "--", "d.yaml"]) == [
        "a.yaml", "b.yaml", "c.yaml"]
    assert configfile_args(["-n", "results/x.csv"]) == []


def test_binary_params_file_is_one_line(tmp_path):
    work = copy_workflow(tmp_path / "wf")
    (work / "params.yaml").write_bytes(bytes(range(256)) * 4)
    r = snakemake(work, "-n")
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "Traceback" not in out, out[-3000:]
    lines = [l for l in out.splitlines() if "invalid config" in l]
    assert len(lines) == 1 and "params.yaml: not a YAML text file" in lines[0], out


def test_task_field_that_is_not_a_prompt_field_is_refused(tmp_path, toy_corpus, llm_dir,
                                                          encoder_dirs):
    out = tmp_path / "run"
    r = run_stage("train", "--llm", llm_dir, "--encoder", encoder_dirs["wavlm"], "--connector",
                  "fresh", "--lora", "fresh", "--train-manifest", toy_corpus.train,
                  "--dev-manifest", toy_corpus.dev, "--fields", "gender,age",
                  "--task-field", "emotion", "--params", '{"steps": 1, "batch_size": 2, '
                  '"lr": {"connector": 1e-3, "lora": 1e-3}}', "--out", out)
    assert "--task-field: 'emotion'" in assert_refused(r, out, toy_corpus.train)
