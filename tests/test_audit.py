"""The lineage audit follows records and detects tampered or swapped artifacts."""
import json
import subprocess
import sys
from pathlib import Path

from slm_backdoor.audit import problems, trace
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
