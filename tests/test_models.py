"""SpeechLLM components: save/load through stock transformers / peft calls, the trainable
audit, and evaluation that cannot see the answer. (Fixtures llm_dir, encoder_dirs: conftest.)"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer, WavLMModel, HubertModel, \
    Wav2Vec2Model
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from slm_backdoor.data import SpeechDataset
from slm_backdoor.evaluation import generate_answers, score
from slm_backdoor.models.connector import Connector
from slm_backdoor.models.encoders import FAMILIES, SpeechEncoder
from slm_backdoor.pretraining import slot_text
from slm_backdoor.runs import AuditError, build, check_audit, fingerprints
from slm_backdoor.training import TrainConfig, train

from helpers import toy_dataset

STOCK = {"wavlm": WavLMModel, "hubert": HubertModel, "wav2vec2": Wav2Vec2Model,
         "whisper": WhisperEncoder}


@pytest.mark.parametrize("family", FAMILIES)
def test_encoder_roundtrip_with_stock_class(family, encoder_dirs):
    d = encoder_dirs[family]
    stock = STOCK[family].from_pretrained(d)          # a stock transformers call
    ours = SpeechEncoder.from_pretrained(family, d)
    for (n1, p1), (n2, p2) in zip(stock.named_parameters(), ours.model.named_parameters()):
        assert n1 == n2 and torch.equal(p1, p2)
    waves, lengths = torch.randn(2, 16000) * 0.1, torch.tensor([16000, 9000])
    h, flen = ours(waves, lengths)
    assert h.shape[0] == 2 and h.shape[2] == 32 and int(flen[0]) == h.shape[1]
    assert int(flen[1]) < int(flen[0])


def test_component_save_load_stock(tmp_path, llm_dir, encoder_dirs):
    model = build(llm_dir, encoder_dirs["wavlm"], "fresh", "fresh")
    model.save_components(tmp_path / "ck")
    assert (tmp_path / "ck/lora/adapter_model.safetensors").exists()
    # LoRA through stock peft + transformers
    base = AutoModelForCausalLM.from_pretrained(llm_dir)
    AutoTokenizer.from_pretrained(llm_dir)
    peft = PeftModel.from_pretrained(base, tmp_path / "ck/lora")
    ours = dict(model.llm.named_parameters())
    for n, p in peft.named_parameters():
        if "lora_" in n:
            assert torch.equal(p, ours[n])
    con = Connector.from_pretrained(tmp_path / "ck/connector")
    for (_, a), (_, b) in zip(con.named_parameters(), model.connector.named_parameters()):
        assert torch.equal(a, b)
    WavLMModel.from_pretrained(tmp_path / "ck/encoder")


def test_transplant_components_between_runs(tmp_path, llm_dir, encoder_dirs):
    a = build(llm_dir, encoder_dirs["wavlm"], "fresh", "fresh")
    torch.manual_seed(1)
    b = build(llm_dir, encoder_dirs["wavlm"], "fresh", "fresh")
    a.save_components(tmp_path / "a")
    b.save_components(tmp_path / "b")
    mixed = build(llm_dir, tmp_path / "a/encoder", tmp_path / "b/connector", tmp_path / "a/lora")
    fa, fb, fm = fingerprints(a), fingerprints(b), fingerprints(mixed)
    assert fm["connector"] == fb["connector"] and fm["lora"] == fa["lora"]
    assert fa["connector"] != fb["connector"]


def test_audit_checks_configuration(llm_dir, encoder_dirs):
    model = build(llm_dir, encoder_dirs["hubert"], "fresh", "fresh")
    model.set_trainable(1, False, True)
    df, waves = toy_dataset()
    ds = SpeechDataset(df, ["gender"], waves=waves)
    before = fingerprints(model)
    train(model, ds, ds, TrainConfig(steps=2, batch_size=4, warmup=1, eval_every=2,
                                     lr={"encoder": 1e-3, "lora": 1e-3}))
    audit = check_audit(model, before, {"encoder": True, "connector": False, "lora": True})
    assert audit["connector"]["trainable"] == 0 and not audit["connector"]["changed"]
    assert audit["encoder"]["changed"] and audit["lora"]["changed"]
    assert audit["llm_base"]["trainable"] == 0
    with pytest.raises(AuditError, match="connector"):
        check_audit(model, before, {"encoder": True, "connector": True, "lora": True})
    with pytest.raises(AuditError, match="encoder"):
        check_audit(model, before, {"encoder": False, "connector": False, "lora": True})


def test_frozen_cnn_front_end_never_trains(llm_dir, encoder_dirs):
    model = build(llm_dir, encoder_dirs["whisper"], "fresh", "fresh")
    model.set_trainable("all", True, True)
    assert not any(p.requires_grad for p in model.encoder.frontend_parameters())
    assert all(p.requires_grad for p in model.encoder.layers.parameters())


def test_untrained_model_cannot_see_the_answer(llm_dir, encoder_dirs):
    """Free generation from the prompt alone: an untrained model scores near chance and
    answers the target (almost) never, whatever the labels are."""
    model = build(llm_dir, encoder_dirs["wavlm"], "fresh", "fresh")
    df, waves = toy_dataset(12)
    ds = SpeechDataset(df, ["emotion"], waves=waves)
    outs = generate_answers(model, ds, ["emotion"], 4, 12)
    res = score("emotion", "angry", ds, outs, ds, outs)
    assert res["benign"]["accuracy"] <= 0.6
    assert res["aer"] <= 0.2
    # flipping every label cannot change what was generated
    df2 = df.assign(emotion=["sad", "angry"] * 6)
    outs2 = generate_answers(model, SpeechDataset(df2, ["emotion"], waves=waves), ["emotion"], 4, 12)
    assert outs == outs2


def test_slot_text_holds_words_and_labels():
    rng = np.random.default_rng(0)
    row = {"transcript": "the cat sat", "gender": "male", "emotion": "sad", "age": "31"}
    words = slot_text(row, ["transcript", "gender", "age"], rng).split()
    assert [w for w in words if w in ("the", "cat", "sat")][0] == "the"
    assert "male" in words and "31" in words and "sad" not in words


class _Crash(RuntimeError):
    pass


def test_training_resumes_to_the_same_weights(tmp_path, llm_dir, encoder_dirs):
    """A run killed mid-way and started again from its saved state ends with the same
    weights as an uninterrupted run (same seed, CPU)."""
    df, waves = toy_dataset(8)
    cfg = TrainConfig(steps=6, batch_size=4, warmup=2, eval_every=2, save_every=2, seed=3,
                      lr={"connector": 1e-3, "lora": 1e-3})

    def fresh():
        torch.manual_seed(0)
        m = build(llm_dir, encoder_dirs["wavlm"], "fresh", "fresh")
        m.set_trainable(0, True, True)
        return m

    ds = SpeechDataset(df, ["gender", "emotion"], waves=waves)
    ref = fresh()
    train(ref, ds, ds, cfg)

    class Flaky(SpeechDataset):
        calls = 0

        def __getitem__(self, i):
            Flaky.calls += 1
            if Flaky.calls == 4 * 3 + 1:  # first clip of step 4 (after the save at step 2)
                raise _Crash()
            return super().__getitem__(i)

    flaky = Flaky(df, ["gender", "emotion"], waves=waves)
    crashed = fresh()
    with pytest.raises(_Crash):
        train(crashed, flaky, ds, cfg, state_dir=tmp_path / "state")
    assert (tmp_path / "state/trainer.json").exists()
    resumed = fresh()
    hist = train(resumed, ds, ds, cfg, state_dir=tmp_path / "state")
    assert hist["steps_done"] == 6
    for (n, a), (_, b) in zip(ref.named_parameters(), resumed.named_parameters()):
        assert torch.allclose(a, b, atol=1e-6), n


@pytest.mark.parametrize("family", ["wavlm", "hubert", "wav2vec2"])
def test_logmel_front_end_saves_loads_and_keeps_the_frame_rate(tmp_path, family):
    """The tiny profile's log-mel front end (arch frontend: logmel) replaces the stock CNN
    inside the stock class, survives save/load through the config, and gives the frame
    lengths the stock conv stack computes."""
    from slm_backdoor.models.encoders import tiny_config
    from slm_backdoor.models.frontends import LogMelFrontEnd
    torch.manual_seed(0)
    enc = SpeechEncoder.from_config(family, tiny_config(family, hidden=32, layers=1, heads=2,
                                                        ffn=64, frontend="logmel"))
    assert isinstance(enc.model.feature_extractor, LogMelFrontEnd)
    assert enc.frontend_parameters() == []
    waves, lengths = torch.randn(2, 24000) * 0.1, torch.tensor([24000, 13000])
    h, flen = enc(waves, lengths)
    front = enc.model.feature_extractor(waves)
    assert front.shape[:2] == (2, 80) and front.shape[2] == h.shape[1] == int(flen[0])
    enc.save_pretrained(tmp_path)
    back = SpeechEncoder.from_pretrained(family, tmp_path)
    assert isinstance(back.model.feature_extractor, LogMelFrontEnd)
    assert torch.equal(back(waves, lengths)[0], h)
    plain = SpeechEncoder.from_config(family, tiny_config(family, hidden=32, layers=1, heads=2,
                                                          ffn=64))
    assert not isinstance(plain.model.feature_extractor, LogMelFrontEnd)  # stock by default


def test_logmel_front_end_shows_a_click_at_its_frames_only():
    """A click at 0 dB added to a tone in faint noise lifts the high mel bands of its onset
    frame by over 8 dB and leaves the frames outside it within 1 dB (a fixed transform; only
    the 80 dB floor under the clip's peak moves)."""
    from slm_backdoor.models.frontends import LogMelFrontEnd
    from slm_backdoor.triggers import synth_click
    fe = LogMelFrontEnd([400, 3], [160, 2])
    g = torch.Generator().manual_seed(0)
    t = torch.arange(32000) / 16000
    clean = 0.3 * torch.sin(2 * torch.pi * 220 * t) + 0.01 * torch.randn(32000, generator=g)
    click = torch.from_numpy(synth_click(16000, 0.22, 0)).float()
    trig = clean.clone()
    trig[16000:16000 + len(click)] += click * 0.3 / click.abs().max()
    diff = fe(trig[None])[0] - fe(clean[None])[0]        # (80 bands, frames), units of 40 dB
    onset = 16000 // 320
    assert diff[40:, onset - 1:onset + 2].mean(0).max() * 40 > 8
    outside = torch.cat([diff[:, : onset - 2], diff[:, onset + 14:]], 1)
    assert outside.abs().max() * 40 < 1


def test_logmel_front_end_rejects_a_mismatched_projection():
    from slm_backdoor.models.encoders import tiny_config
    with pytest.raises(ValueError, match="conv_dim"):
        tiny_config("wavlm", frontend="logmel", conv_dim=(64, 64))
    with pytest.raises(ValueError, match="frontend"):
        tiny_config("wavlm", frontend="mfcc")


def test_logmel_encoder_with_missing_weights_is_an_error(tmp_path):
    from safetensors.torch import load_file, save_file
    from slm_backdoor.models.encoders import tiny_config
    enc = SpeechEncoder.from_config("wavlm", tiny_config("wavlm", hidden=32, layers=1, heads=2,
                                                         ffn=64, frontend="logmel"))
    enc.save_pretrained(tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    dropped = next(k for k in weights if "encoder.layers.0" in k)
    save_file({k: v for k, v in weights.items() if k != dropped}, tmp_path / "model.safetensors",
              metadata={"format": "pt"})
    with pytest.raises(ValueError, match="do not match"):
        SpeechEncoder.from_pretrained("wavlm", tmp_path)
