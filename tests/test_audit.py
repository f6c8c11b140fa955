"""The lineage audit follows records (and dvc.lock) and detects tampered or swapped artifacts."""
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import yaml

from slm_backdoor.audit import problems, render, trace
from slm_backdoor.lineage import write_lineage

ROOT = Path(__file__).resolve().parents[1]


def _chain(tmp_path):
    src = tmp_path / "manifest.csv"
    src.write_text("id,path\n1,a.wav\n")
    write_lineage(src, "synthesize", {}, {"seed": 1})
    ck = tmp_path / "run"
    (ck / "lora").mkdir(parents=True)
    (ck / "lora/adapter.safetensors").write_bytes(b"weights")
    write_lineage(ck, "train", {"train_manifest": src}, {"steps": 3})
    m = tmp_path / "metrics" / "wavlm" / "attack0_age" / "age.json"
    m.parent.mkdir(parents=True)
    m.write_text(json.dumps({"aer": 0.5}))
    write_lineage(m, "evaluate", {"model": ck}, {})
    other = tmp_path / "metrics" / "wavlm" / "attack0_asr" / "asr.json"
    other.parent.mkdir(parents=True)
    other.write_text(json.dumps({"aer": 0.1}))
    write_lineage(other, "evaluate", {"model": ck}, {})
    table = tmp_path / "T1.csv"
    table.write_text("encoder,task\nwavlm,age\nwavlm,asr\n")
    write_lineage(table, "tabulate", {"m1": m, "m2": other}, {})
    return src, ck, m, table


def test_chain_and_row(tmp_path):
    src, ck, m, table = _chain(tmp_path)
    tree = trace(table, {"encoder": "wavlm", "task": "age"})
    assert [v["artifact"] for v in tree["inputs"].values()] == [str(m)]
    run = tree["inputs"]["m1"]["inputs"]["model"]
    assert run["stage"] == "train" and run["params"] == {"steps": 3}
    assert run["inputs"]["train_manifest"]["stage"] == "synthesize"
    assert problems(tree) == []


def test_tampering_is_detected(tmp_path):
    src, ck, m, table = _chain(tmp_path)
    (ck / "lora/adapter.safetensors").write_bytes(b"another checkpoint, same name")
    src.write_text("id,path\n1,b.wav\n")
    bad = problems(trace(table))
    assert any(str(ck) in b and "changed" in b for b in bad)
    assert any(str(src) in b for b in bad)


def test_cli_exit_codes(tmp_path):
    src, ck, m, table = _chain(tmp_path)
    cmd = [sys.executable, str(ROOT / "stages/audit.py"), str(table), "--json"]
    ok = subprocess.run(cmd, capture_output=True, text=True)
    assert ok.returncode == 0 and json.loads(ok.stdout)["problems"] == []
    m.write_text("{}")
    bad = subprocess.run(cmd, capture_output=True, text=True)
    assert bad.returncode == 1 and str(m) in bad.stdout


def test_hidden_files_are_not_content(tmp_path):
    src, ck, m, table = _chain(tmp_path)
    (ck / ".snakemake_timestamp").write_text("")
    assert problems(trace(table)) == []


def _dvc_commit(root: Path, outs: list[str]) -> Path:
    """A DVC project at `root` whose one stage records `outs` as they are now (dvc commit)."""
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"make": {"cmd": "true",
                                                                       "outs": outs}}}))
    for args in (["init", "--no-scm", "-q"], ["commit", "-f", "-q"]):
        r = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, capture_output=True,
                           text=True)
        assert r.returncode == 0, r.stderr
    return root / "dvc.lock"


def test_dvc_lock_hash_beside_the_lineage_one(tmp_path):
    src, ck, m, table = _chain(tmp_path)
    lock = _dvc_commit(tmp_path, ["run", "metrics", "T1.csv"])
    tree = trace(table, dvc_lock=lock)
    d = tree["dvc"]  # a file out: its md5 in dvc.lock
    assert d["out"] == "T1.csv" and d["md5"] == hashlib.md5(table.read_bytes()).hexdigest()
    assert d["matches"] and tree["recorded_sha256"] == tree["sha256"]
    metrics = tree["inputs"]["m1"]["dvc"]  # a file inside a directory out: from its listing
    assert metrics["out"] == "metrics" and metrics["md5"] == hashlib.md5(m.read_bytes()).hexdigest()
    run = tree["inputs"]["m1"]["inputs"]["model"]["dvc"]  # a folder inside a directory out
    assert run["files"] == 1 and run["matches"]
    assert "dvc" not in tree["inputs"]["m1"]["inputs"]["model"]["inputs"]["train_manifest"]
    assert problems(tree) == []
    (ck / "lora/adapter.safetensors").write_bytes(b"swapped")
    bad = problems(trace(table, dvc_lock=lock))
    assert any(str(ck) in b and "DVC" in b and "lora/adapter.safetensors" in b for b in bad)


def test_components_and_the_run_that_saved_them(tmp_path):
    src, ck, m, table = _chain(tmp_path)
    (ck / "trainable.json").write_text(json.dumps({"lora": {"changed": True}}))
    write_lineage(ck, "train", {"train_manifest": src}, {"steps": 3},
                  extra={"sources": {"lora": "fresh"}})
    later = tmp_path / "later"
    later.mkdir()
    (later / "x").write_text("1")
    write_lineage(later, "train", {"lora": ck / "lora"}, {})
    tree = trace(later)
    comp = tree["inputs"]["lora"]
    assert comp["stage"] == "component" and comp["consumer_matches"]
    saved_by = comp["inputs"]["run"]
    assert saved_by["artifact"] == str(ck) and saved_by["stage"] == "train"
    assert saved_by["components"]["lora"]["trained_here"]
    assert saved_by["components"]["lora"]["from"] == "fresh"
    text = "\n".join(render(tree))
    assert "[component]" in text and "lora sha256" in text and "trained here" in text
