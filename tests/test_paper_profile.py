"""The `paper` profile on CPU, with small checkpoints of the real checkpoints' classes saved
here (WavLMModel, HubertModel, Wav2Vec2ForCTC, WhisperModel with the stock CNN front ends;
LlamaForCausalLM with a Llama-style tokenizer and TinyLlama's chat template): loading
through from_pretrained paths and hub ids, the sha256 pins, the chat-template prompt, free
generation, gradient checkpointing, the planned workflow and the stages end to end."""
from __future__ import annotations

import json
import os
import re
import shutil
import string
import subprocess
import sys

import pytest
import torch
import yaml
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (AutoModelForCausalLM, HubertConfig, HubertModel, LlamaConfig,
                          LlamaForCausalLM, PreTrainedTokenizerFast, Wav2Vec2Config,
                          Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC, WavLMConfig, WavLMModel,
                          WhisperConfig, WhisperFeatureExtractor, WhisperModel)

import corpus_trees
from helpers import ROOT, copy_workflow, load_script, run_stage, snakemake
from slm_backdoor.checkpoints import checkpoint_sha256, resolve_checkpoint
from slm_backdoor.data import SpeechDataset, collate
from slm_backdoor.evaluation import generate_answers
from slm_backdoor.lineage import IntegrityError, sha256_tree
from slm_backdoor.models.encoders import FAMILIES
from slm_backdoor.models.llm import TINYLLAMA_CHAT_TEMPLATE
from slm_backdoor.prompts import FIELDS, SPEECH_CLOSE, SPEECH_OPEN, answer_json, instruction
from slm_backdoor.runs import build, check_audit, fingerprints, pick_device, place
from slm_backdoor.training import TrainConfig, train
from helpers import job_counts, merged, toy_dataset

PAPER = "workflow/profiles/paper/params.yaml"
LABELS = {"transcript": "the cat sat", "gender": "female", "emotion": "angry", "age": "31"}
SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
STOCK_CNN = dict(conv_dim=(16,) * 7, feat_extract_norm="layer", do_stable_layer_norm=True,
                 num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
LR = {"encoder": 1e-3, "connector": 1e-3, "lora": 1e-3}


# -- small checkpoints of the real classes -------------------------------------------------

def llama_style_tokenizer() -> PreTrainedTokenizerFast:
    """A sub-word BPE over Metaspace pieces (as Llama's), trained here, with <s> </s> <unk>
    and TinyLlama's chat template; no pad token (as TinyLlama's)."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    texts = [instruction(FIELDS[:k]) for k in range(1, 5)] + [answer_json(LABELS, FIELDS)]
    tok.train_from_iterator(texts * 20, trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False,
        initial_alphabet=list(string.printable)))
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>", chat_template=TINYLLAMA_CHAT_TEMPLATE)


def save_llm(path):
    tok = llama_style_tokenizer()
    tok.save_pretrained(path)
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                                 num_hidden_layers=1, num_attention_heads=2,
                                 num_key_value_heads=1, max_position_embeddings=512,
                                 bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                 tie_word_embeddings=False)).save_pretrained(path)
    return path


def save_encoder(family: str, path):
    """As on the hub: the model class of the public checkpoint and its feature extractor."""
    torch.manual_seed(0)
    if family == "whisper":  # 2 s windows instead of 30 s
        WhisperModel(WhisperConfig(d_model=32, encoder_layers=2, decoder_layers=1,
                                   encoder_attention_heads=2, decoder_attention_heads=2,
                                   encoder_ffn_dim=64, decoder_ffn_dim=64, num_mel_bins=80,
                                   max_source_positions=100, max_target_positions=32,
                                   vocab_size=64, pad_token_id=0, bos_token_id=1,
                                   eos_token_id=2, decoder_start_token_id=1)).save_pretrained(path)
        WhisperFeatureExtractor(feature_size=80, chunk_length=2).save_pretrained(path)
        return path
    cfg_cls, model_cls = {"wavlm": (WavLMConfig, WavLMModel),
                          "hubert": (HubertConfig, HubertModel),
                          "wav2vec2": (Wav2Vec2Config, Wav2Vec2ForCTC)}[family]  # -960h: CTC
    extra = {"num_buckets": 32, "max_bucket_distance": 100} if family == "wavlm" else {}
    model_cls(cfg_cls(**SMALL, **STOCK_CNN, **extra, vocab_size=32)).save_pretrained(path)
    Wav2Vec2FeatureExtractor(do_normalize=True).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    """The checkpoints (llm + one per family) and their sha256 pins, as params hold them."""
    root = tmp_path_factory.mktemp("paper_ckpts")
    dirs = {"llm": save_llm(root / "llm")}
    dirs.update({f: save_encoder(f, root / f) for f in FAMILIES})
    keys = {"llm": "models.llm", **{f: f"models.encoders.{f}" for f in FAMILIES}}
    pins = {key: {"path": str(dirs[name]), "sha256": checkpoint_sha256(dirs[name])}
            for name, key in keys.items()}
    return dirs, pins


# -- loading and pins ----------------------------------------------------------------------

@pytest.mark.parametrize("family", FAMILIES)
def test_build_loads_public_checkpoints_with_from_pretrained(family, ckpts):
    dirs, pins = ckpts
    model = build(dirs["llm"], dirs[family], "fresh", "fresh", {"r": 8, "alpha": 16,
                                                                "dropout": 0.05}, pins=pins)
    assert model.encoder.family == family  # from config.json's model_type
    stock = {"whisper": lambda d: WhisperModel.from_pretrained(d).get_encoder(),
             "wav2vec2": lambda d: Wav2Vec2ForCTC.from_pretrained(d).wav2vec2}.get(
        family, lambda d: {"wavlm": WavLMModel, "hubert": HubertModel}[family].from_pretrained(d))
    ref = dict(stock(dirs[family]).named_parameters())
    for n, p in model.encoder.model.named_parameters():
        assert torch.equal(p, ref[n]), n
    base = AutoModelForCausalLM.from_pretrained(dirs["llm"])
    ours = {n.replace("base_model.model.", "").replace(".base_layer", ""): p
            for n, p in model.llm.named_parameters() if "lora_" not in n}
    assert all(torch.equal(p, ours[n]) for n, p in base.named_parameters())
    # the LLM's own vocabulary: no new (untrainable) delimiter embeddings for a frozen LLM
    assert len(model.tokenizer) == model.llm.get_input_embeddings().num_embeddings
    assert model.llm.peft_config["default"].lora_dropout == 0.05
    waves, lengths = torch.randn(2, 16000) * 0.1, torch.tensor([16000, 9000])
    (hidden, flen), (audio, alen) = model.audio_layers(waves, lengths)
    assert hidden.shape[1] == int(flen[0]) and int(flen[1]) < int(flen[0])
    assert audio.shape[2] == 32 and int(alen[0]) == audio.shape[1]


def test_sha256_pin_accepts_the_right_hash_and_refuses_another(tmp_path, ckpts):
    dirs, pins = ckpts
    build(dirs["llm"], dirs["wavlm"], "fresh", "fresh", pins=pins)  # the right hashes
    wrong = "0" * 64
    bad = {**pins, "models.llm": {**pins["models.llm"], "sha256": wrong}}
    with pytest.raises(IntegrityError) as e:
        build(dirs["llm"], dirs["wavlm"], "fresh", "fresh", pins=bad)
    msg = str(e.value)
    assert "\n" not in msg and "models.llm" in msg and str(dirs["llm"]) in msg
    assert f"expected {wrong}" in msg and f"actual {pins['models.llm']['sha256']}" in msg
    # a swapped checkpoint (one edited file) is refused by its encoder pin
    swapped = shutil.copytree(dirs["hubert"], tmp_path / "hubert")
    cfg = json.loads((swapped / "config.json").read_text())
    (swapped / "config.json").write_text(json.dumps({**cfg, "layer_norm_eps": 1e-6}))
    moved = {**pins, "models.encoders.hubert": {**pins["models.encoders.hubert"],
                                                "path": str(swapped)}}
    with pytest.raises(IntegrityError, match="models.encoders.hubert"):
        build(dirs["llm"], swapped, "fresh", "fresh", pins=moved)


def test_hub_id_resolves_to_its_snapshot_in_the_local_cache(tmp_path, monkeypatch, ckpts):
    import huggingface_hub.constants
    dirs, _ = ckpts
    repo = tmp_path / "hub" / "models--test-org--tiny-chat"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("a" * 40)
    shutil.copytree(dirs["llm"], repo / "snapshots" / ("a" * 40))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert resolve_checkpoint("test-org/tiny-chat") == repo / "snapshots" / ("a" * 40)
    assert checkpoint_sha256("test-org/tiny-chat") == sha256_tree(dirs["llm"])
    with pytest.raises(FileNotFoundError, match="hf download test-org/absent"):
        resolve_checkpoint("test-org/absent")


# -- prompt and generation -----------------------------------------------------------------

def _squeeze(text: str) -> str:
    return "".join(text.split())


def test_prompt_is_the_llm_chat_template_with_plain_text_delimiters(ckpts):
    dirs, _ = ckpts
    model = build(dirs["llm"], dirs["wavlm"], "fresh", "fresh")
    tok = model.tokenizer
    prompt, answer = instruction(["gender", "age"]), answer_json(LABELS, ["gender", "age"])
    pre, post, ans = model.segments(prompt, answer)
    assert pre[0] == tok.bos_token_id and ans[-1] == tok.eos_token_id
    user = {"role": "user", "content": f"{prompt} {SPEECH_OPEN}{SPEECH_CLOSE}"}
    chat = tok.apply_chat_template([user, {"role": "assistant", "content": answer}],
                                   tokenize=False)
    decoded = tok.decode(pre + post + ans)  # the audio goes between pre and post
    assert _squeeze(decoded) == _squeeze(tok.bos_token + chat)  # <s>: as TinyLlama was tuned
    assert _squeeze(tok.decode(pre)).endswith(SPEECH_OPEN)
    assert "<|user|>" in tok.decode(pre) and "<|assistant|>" in tok.decode(post)
    # generation: the same prompt, ending where the assistant's answer starts
    gpre, gpost, gans = model.segments(prompt)
    assert (gpre, gpost, gans) == (pre, post, [])
    gen = tok.apply_chat_template([user], tokenize=False, add_generation_prompt=True)
    assert _squeeze(tok.decode(gpre + gpost)) == _squeeze(tok.bos_token + gen)


def test_generation_is_free_the_answer_is_not_in_the_inputs(ckpts, monkeypatch):
    dirs, _ = ckpts
    model = build(dirs["llm"], dirs["wavlm"], "fresh", "fresh")
    df, waves = toy_dataset(6)
    ds = SpeechDataset(df, ["emotion"], waves=waves)
    w, l, p, a = collate([ds[i] for i in range(3)], [["emotion"]] * 3)
    embeds, mask, labels = model.build_inputs(w, l, p, None)
    assert (labels == -100).all()
    _, alen = model.audio_embeddings(w, l)
    pre, post, _ = model.segments(p[0])
    assert mask.sum(1).tolist() == [len(pre) + int(n) + len(post) for n in alen]
    seen = []
    real = model.build_inputs
    monkeypatch.setattr(model, "build_inputs",
                        lambda *args: seen.append(args[3]) or real(*args))
    outs = generate_answers(model, ds, ["emotion"], 4, 6)
    assert seen and all(ans is None for ans in seen)
    flipped = SpeechDataset(df.assign(emotion=["sad", "angry"] * 3), ["emotion"], waves=waves)
    assert generate_answers(model, flipped, ["emotion"], 4, 6) == outs


# -- training on the device, with gradient checkpointing ---------------------------------

def test_device_is_chosen_automatically_with_an_override(monkeypatch):
    monkeypatch.delenv("SLM_DEVICE", raising=False)
    assert pick_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert pick_device("cpu").type == "cpu"
    monkeypatch.setenv("SLM_DEVICE", "cpu")
    assert pick_device("cuda").type == "cpu"  # the environment wins
    if not torch.cuda.is_available():
        monkeypatch.delenv("SLM_DEVICE")
        with pytest.raises(ValueError, match="CUDA is not available"):
            pick_device("cuda")


def test_training_step_with_gradient_checkpointing(ckpts):
    """Same gradients with and without checkpointing; a short run trains what it should."""
    dirs, _ = ckpts
    df, waves = toy_dataset(8)
    ds = SpeechDataset(df, ["gender", "emotion"], waves=waves)

    def model(checkpointing: bool):
        torch.manual_seed(0)
        m = build(dirs["llm"], dirs["whisper"], "fresh", "fresh", {"dropout": 0.0})
        m.set_trainable("all", True, True)
        return place(m, {"device": "cpu", "gradient_checkpointing": checkpointing}).train()

    plain, ckpt = model(False), model(True)
    assert ckpt.encoder.model.is_activation_checkpointing
    assert ckpt.llm.base_model.model.is_activation_checkpointing
    batch = collate([ds[i] for i in range(4)], [["gender", "emotion"]] * 4)
    for m in (plain, ckpt):
        m(*batch).backward()
    for (n, a), (_, b) in zip(plain.named_parameters(), ckpt.named_parameters()):
        if a.grad is not None:
            assert torch.allclose(a.grad, b.grad, atol=1e-6), n
    before = fingerprints(ckpt)
    ckpt.zero_grad()
    hist = train(ckpt, ds, ds, TrainConfig(steps=2, batch_size=4, warmup=1, eval_every=2, lr=LR))
    assert hist["steps_done"] == 2 and all(x == x for x in hist["train_loss"])
    check_audit(ckpt, before, {"encoder": True, "connector": True, "lora": True})


# -- the workflow, planned -----------------------------------------------------------------

def corpus_roots(root) -> dict:
    """Tiny copies of the real corpora, as the paper overlay's `corpora` expects them."""
    return {
        "read": {"root": str(corpus_trees.librispeech(
            root / "LibriSpeech", ("train-clean-100", "train-clean-360", "dev-clean",
                                   "test-clean")))},
        "acted": {"root": str(corpus_trees.cremad(root / "CREMA-D"))},
        "celeb": {"root": str(corpus_trees.voxceleb(root / "vox2")),
                  "annotations": "annotations.csv"},
        "acted2": {"root": str(corpus_trees.iemocap(root / "IEMOCAP"))},
        "read2": {"root": str(corpus_trees.kaldi(root / "wsj")),
                  "subsets": {"train": "data/train", "dev": "data/dev", "test": "data/test"}},
    }


def test_schema_accepts_the_paper_overlay():
    from snakemake.utils import validate
    cfg = merged(PAPER)
    validate(cfg, str(ROOT / "workflow" / "schemas" / "params.schema.yaml"))
    assert cfg["models"]["source"] == "paper" and cfg["train"]["lora"]["dropout"] == 0.05


@pytest.fixture(scope="module")
def paper_work(tmp_path_factory, ckpts):
    """A workflow copy and an overlay (merged after the paper one) naming the checkpoints
    made here, their pins and the tiny corpus trees."""
    dirs, pins = ckpts
    root = tmp_path_factory.mktemp("paper_work")
    work = copy_workflow(root / "work")
    local = {"models": {"llm": {"path": str(dirs["llm"]),
                                "sha256": pins["models.llm"]["sha256"]},
                        "encoders": {f: {"path": str(dirs[f]),
                                         "sha256": pins[f"models.encoders.{f}"]["sha256"]}
                                     for f in FAMILIES}},
             "corpora": corpus_roots(root / "corpora")}
    overlay = root / "local.yaml"
    overlay.write_text(yaml.safe_dump(local))
    return work, overlay, local


def test_paper_dry_run_plans_no_pretraining_and_fresh_connector_and_lora(paper_work, ckpts):
    work, overlay, _ = paper_work
    dirs, _ = ckpts
    r = snakemake(work, "-n", "-p", "--configfile", str(ROOT / PAPER), str(overlay), timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    counts = job_counts(out)
    assert not {"pretrain_llm", "pretrain_encoder", "align", "synthesize_pretrain",
                "synthesize"} & set(counts)
    assert counts["prepare_corpus"] == 5 and counts["train"] > 0 and counts["evaluate"] > 0
    cmds = re.findall(r"^Shell command: (.*/train\.py .*)$", out, re.M)
    assert len(cmds) == (counts["train"] + counts["train_components"] + counts["defend"]
                         + counts.get("train_sweep", 0))
    usual = [c for c in cmds if re.search(r"/(clean_\w+|attack0_\w+) >", c)]
    assert usual and all("--connector fresh --lora fresh" in c for c in usual)
    for family in FAMILIES:
        starts = [c for c in usual if f"models/runs/{family}/" in c]
        assert starts and all(f"--encoder {dirs[family]} " in c for c in starts)
        layers = "all" if family == "whisper" else "15"
        assert all(f"--train-encoder {layers} " in c for c in starts), family
    assert all(f"--llm {dirs['llm']} " in c and '"checkpoints"' in c for c in cmds)


@pytest.mark.parametrize("change, key", [
    ({"llm": {"sha256": None}}, "models.llm.sha256"),
    ({"encoders": {"hubert": {"path": "/nowhere/hubert"}}}, "models.encoders.hubert.path"),
    ({"llm": {"sha256": "not-a-hash"}}, "models.llm.sha256"),
])
def test_paper_config_errors_name_the_key(paper_work, tmp_path, change, key):
    work, overlay, _ = paper_work
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"models": change}))
    r = snakemake(work, "-n", "--configfile", str(ROOT / PAPER), str(overlay), str(bad))
    assert r.returncode != 0
    line = next((ln for ln in (r.stdout + r.stderr).splitlines() if "invalid config" in ln), "")
    assert key in line, (r.stdout + r.stderr)[-3000:]


# -- the stages, end to end on CPU ---------------------------------------------------------

def test_paper_profile_runs_end_to_end_on_cpu(tmp_path, ckpts, toy_corpus):
    """stages/train.py then stages/evaluate.py with the small checkpoints and their pins:
    fresh connector and LoRA, Whisper's whole encoder trains, gradient checkpointing."""
    dirs, pins = ckpts
    used = {k: v for k, v in pins.items() if k in ("models.llm", "models.encoders.whisper")}
    cfg = {"steps": 2, "batch_size": 4, "lr": LR, "warmup": 1, "eval_every": 2, "patience": 1,
           "lora": {"r": 8, "alpha": 16, "dropout": 0.05}, "connector_stride": 2,
           "device": "auto", "bf16": True, "gradient_checkpointing": True, "checkpoints": used}
    run = tmp_path / "runs" / "whisper" / "attack0_gender"
    r = run_stage("train", "--llm", dirs["llm"], "--encoder", dirs["whisper"], "--connector",
                  "fresh", "--lora", "fresh", "--train-encoder", "all", "--train-connector", 1,
                  "--train-lora", 1, "--train-manifest", toy_corpus.train, "--dev-manifest",
                  toy_corpus.dev, "--params", json.dumps(cfg), "--out", run)
    assert r.returncode == 0, r.stderr[-3000:]
    audit = json.loads((run / "trainable.json").read_text())
    assert all(audit[c]["changed"] for c in ("encoder", "connector", "lora"))
    assert not audit["llm_base"]["changed"]
    ev = {"batch_size": 4, "max_new_tokens": {"gender": 6}, "checkpoints": used}
    args = ["--model", run, "--llm", dirs["llm"], "--task", "gender", "--clean", toy_corpus.test,
            "--triggered", toy_corpus.triggered, "--trigger", toy_corpus.trigger,
            "--target", "female", "--out", tmp_path / "gender.json"]
    r = run_stage("evaluate", *args, "--params", json.dumps(ev))
    assert r.returncode == 0, r.stderr[-3000:]
    metrics = json.loads((tmp_path / "gender.json").read_text())
    assert 0.0 <= metrics["aer"] <= 1.0 and "benign" in metrics
    wrong = {**used, "models.llm": {**used["models.llm"], "sha256": "f" * 64}}
    r = run_stage("evaluate", *args, "--params", json.dumps({**ev, "checkpoints": wrong}))
    assert r.returncode == 2
    assert "checkpoint models.llm" in r.stderr and "f" * 64 in r.stderr
    assert used["models.llm"]["sha256"] in r.stderr


# -- scripts/gpu_check.py (runs on a GPU machine only) -------------------------------------

def _gpu_check():
    return load_script(ROOT / "scripts" / "gpu_check.py", "gpu_check")


def test_gpu_check_options():
    g = _gpu_check()
    a = g.parse_args(["--steps", "5", "--batch-size", "2"])
    assert (a.steps, a.batch_size, a.gradient_checkpointing) == (5, 2, True)
    assert g.parse_args([]).steps == 300
    with pytest.raises(SystemExit):
        g.parse_args(["--steps", "0"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
def test_gpu_check_refuses_to_run_without_cuda():
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--steps", "1"],
                       capture_output=True, text=True, timeout=120,
                       env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert r.returncode == 1 and "needs a CUDA GPU" in r.stderr
