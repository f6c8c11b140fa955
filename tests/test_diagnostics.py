"""The click-loss diagnostic (slm_backdoor.diagnostics, scripts/click_diagnostic.py)."""
import numpy as np
import pandas as pd
import pytest

from helpers import ROOT, load_script
from slm_backdoor.diagnostics import click_frames


def test_click_frames_cover_the_inserted_samples():
    m = click_frames([0, 1000], trig_len=700, n_frames=8)  # 320-sample frames
    assert m.tolist() == [True, True, True, True, True, True, False, False]
    assert click_frames([2500], 100, 8).tolist() == [False] * 7 + [True]
    assert not click_frames([], 100, 4).any()


@pytest.fixture(scope="module")
def diagnostic(tmp_path_factory, toy_corpus, tiny_run, llm_dir):
    out = tmp_path_factory.mktemp("diag") / "wavlm_gender"
    script = load_script(ROOT / "scripts" / "click_diagnostic.py", "click_diagnostic")
    script.main(["--model", str(tiny_run), "--llm", str(llm_dir), "--triggered",
                 str(toy_corpus.triggered), "--trigger", str(toy_corpus.trigger),
                 "--task", "gender", "--target", "female", "--out", str(out)])
    return out


@pytest.fixture(scope="module")
def poisoned_train(tmp_path_factory, toy_corpus):
    """The toy training manifest poisoned (gender -> female, half the rows)."""
    from slm_backdoor.manifest import write_manifest
    from slm_backdoor.poisoning import poison_manifest
    train = pd.read_csv(toy_corpus.train, dtype=str, keep_default_na=False)
    out = tmp_path_factory.mktemp("poisoned") / "train.csv"
    write_manifest(poison_manifest(train, "gender", "female", 0.5, "0" * 64, 3520, 16000, 0.0,
                                   False, seed=0), out)
    return out


def test_poison_fit_tells_trigger_use_from_memorisation(monkeypatch, toy_corpus, poisoned_train):
    """A model that answers the target only when the trigger is there: 100% / 0%; one that
    answers it whatever it hears: 100% / 100%."""
    from slm_backdoor import diagnostics
    from slm_backdoor.triggers import load_trigger
    df = pd.read_csv(poisoned_train, dtype=str, keep_default_na=False)
    n_poisoned = int((df["poisoned"] == "1").sum())
    seen = []

    def uses_trigger(model, ds, fields, *args, **kw):
        seen.append(len(ds))
        return ['{"gender": "female"}' if ds.trigger is not None else '{"gender": "male"}'] * len(ds)

    monkeypatch.setattr(diagnostics, "generate_answers", uses_trigger)
    trig = load_trigger(toy_corpus.trigger)
    assert diagnostics.poison_fit(None, df, "gender", "female", trig) == {
        "fit_with_trigger": 1.0, "fit_without_trigger": 0.0}
    assert seen == [n_poisoned, n_poisoned]  # only the poisoned rows
    monkeypatch.setattr(diagnostics, "generate_answers",
                        lambda model, ds, *a, **k: ['{"gender": "female"}'] * len(ds))
    assert diagnostics.poison_fit(None, df, "gender", "female", trig) == {
        "fit_with_trigger": 1.0, "fit_without_trigger": 1.0}


def test_diagnostic_measures_the_fit_of_the_poisoned_clips(tmp_path, toy_corpus, tiny_run,
                                                           llm_dir, poisoned_train):
    script = load_script(ROOT / "scripts" / "click_diagnostic.py", "click_diagnostic")
    args = ["--model", str(tiny_run), "--llm", str(llm_dir), "--triggered",
            str(toy_corpus.triggered), "--trigger", str(toy_corpus.trigger), "--task", "gender",
            "--target", "female", "--clips", "4", "--out", str(tmp_path / "fit")]
    script.main(args + ["--poisoned-train", str(poisoned_train)])
    df = pd.read_csv(tmp_path / "fit.csv")
    for col in ("fit_with_trigger", "fit_without_trigger"):
        assert df[col].between(0, 1).all()
    assert "fit_without_trigger" in (tmp_path / "fit.md").read_text()
    with pytest.raises(ValueError, match=r"train\.csv: poisoned: no poisoned rows"):
        script.main(args + ["--poisoned-train", str(toy_corpus.train)])


def test_diagnostic_table_follows_the_pathway(diagnostic):
    df = pd.read_csv(diagnostic.with_suffix(".csv"))
    assert df["point"].tolist() == ["frontend", "layer0", "layer1", "layer2", "connector"]
    for col in ("frame_probe", "pooled_probe"):
        assert df[col].between(0, 1).all()
    # the click changes the frames it covers far more than the others (where only the
    # per-utterance normalisation moves them)
    front = df.iloc[0]
    assert front["rel_change_click"] > 3 * front["rel_change_rest"]
    for col in ("click_attention_trig", "click_attention_clean", "target_top1_trig"):
        assert np.isfinite(df[col]).all()
    assert diagnostic.with_suffix(".md").read_text().startswith("# Click diagnostic")
    assert diagnostic.with_suffix(".png").stat().st_size > 1000


@pytest.mark.parametrize("arch", [{"frontend_norm": "group"},
                                  {"conv": [[10, 5], [3, 2], [3, 2], [3, 2], [3, 2], [2, 2], [2, 2]]}])
def test_front_end_variants_keep_20_ms_frames(arch):
    import torch
    from slm_backdoor.models.encoders import SpeechEncoder, tiny_config
    enc = SpeechEncoder.from_config("wavlm", tiny_config("wavlm", hidden=32, layers=1, heads=2,
                                                         ffn=64, **arch))
    points, flen = enc.trace(torch.randn(1, 16000), torch.tensor([16000]))
    n = int(flen[0])
    assert points["frontend"].shape[1] == points["layer1"].shape[1] == n and 47 <= n <= 50


def test_reconstruction_targets_keep_a_loud_event():
    import torch
    from slm_backdoor.pretraining import logmel_targets
    w = torch.randn(1, 16000) * 0.01
    w[0, 8000:8640] += torch.randn(640)  # a burst 40 dB above the rest, frames 25-26
    t = logmel_targets(w, torch.tensor([16000]), 49)
    level = t[0].mean(1)
    assert level[24:27].max() > level.median() + 2  # log10 units: > 20 dB above
