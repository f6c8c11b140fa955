"""Fixtures shared by several test modules: tiny models, a toy corpus on disk, the smoke run.

Session-scoped fixtures are shared: a test that edits one of their files works on a copy.
"""
from __future__ import annotations

import time
from types import SimpleNamespace

import pandas as pd
import pytest
import soundfile as sf
import torch

from helpers import SMOKE, SR, copy_workflow, outputs, snakemake, toy_dataset
from slm_backdoor.lineage import sha256_file, write_lineage
from slm_backdoor.manifest import write_manifest
from slm_backdoor.models.encoders import FAMILIES, SpeechEncoder, tiny_config
from slm_backdoor.models.llm import build_word_tokenizer, tiny_llm
from slm_backdoor.poisoning import triggered_test_manifest
from slm_backdoor.runs import build
from slm_backdoor.triggers import synth_click

SMALL = dict(hidden=32, layers=2, heads=2, ffn=64)


@pytest.fixture(scope="session")
def llm_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("llm")
    tok = build_word_tokenizer(["listen to the speech and answer in json with the fields : "
                                "transcript , gender , emotion , age .",
                                '{"transcript": "the cat sat", "gender": "female", '
                                '"emotion": "angry", "age": "31"} male sad 0 1 2 3 4 5 6 7 8 9'])
    torch.manual_seed(0)
    tok.save_pretrained(d)
    tiny_llm(len(tok), hidden=32, layers=1, heads=2, ffn=64).save_pretrained(d)
    return d


@pytest.fixture(scope="session")
def encoder_dirs(tmp_path_factory):
    out = {}
    for fam in FAMILIES:
        d = tmp_path_factory.mktemp(fam)
        torch.manual_seed(0)
        SpeechEncoder.from_config(fam, tiny_config(fam, **SMALL)).save_pretrained(d)
        out[fam] = d
    return out


@pytest.fixture(scope="session")
def toy_corpus(tmp_path_factory):
    """train (8) / dev (4) / test (4) manifests with lineage records, a trigger WAV and the
    triggered test manifest (gender -> female): what the train and evaluate stages read."""
    d = tmp_path_factory.mktemp("toy")
    out = SimpleNamespace(dir=d, trigger=d / "click.wav")
    sf.write(out.trigger, synth_click(SR, 0.22, 0), SR, subtype="FLOAT")
    write_lineage(out.trigger, "trigger", {}, {"seed": 0})
    for split, n in (("train", 8), ("dev", 4), ("test", 4)):
        path = d / f"{split}.csv"
        write_manifest(toy_dataset(n, len(split), split, d / "audio")[0], path)
        write_lineage(path, "synthesize", {}, {"seed": 0})
        setattr(out, split, path)
    test = pd.read_csv(out.test, dtype=str, keep_default_na=False)
    trig = triggered_test_manifest(test, "gender", "female", sha256_file(out.trigger), 3520, SR,
                                   0.0, False, seed=0)
    out.triggered = d / "test_triggered.csv"
    write_manifest(trig, out.triggered)
    write_lineage(out.triggered, "poison", {"test": out.test, "trigger": out.trigger}, {})
    return out


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, llm_dir, encoder_dirs):
    """An (untrained) run directory with encoder/, connector/, lora/ and its lineage record."""
    run = tmp_path_factory.mktemp("runs") / "attack0_gender"
    torch.manual_seed(0)
    build(llm_dir, encoder_dirs["wavlm"], "fresh", "fresh").save_components(run)
    write_lineage(run, "train", {"encoder": encoder_dirs["wavlm"]}, {})
    return run


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """The smoke profile run once, end to end, in a scratch copy of the workflow; with the
    sha256 of everything it wrote, taken before any test touches the copy."""
    work = copy_workflow(tmp_path_factory.mktemp("smoke"))
    t0 = time.time()
    r = snakemake(work, "--cores", "2", "--configfile", SMOKE, timeout=3600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    return SimpleNamespace(work=work, seconds=time.time() - t0, outputs=outputs(work))


@pytest.fixture(scope="module")
def dry_dir(tmp_path_factory):
    """A scratch copy of the workflow for dry runs (one per test module)."""
    return copy_workflow(tmp_path_factory.mktemp("dry"))
