"""No stage unpickles a file: weights are safetensors, torch files are read with
weights_only=True, and nothing else that runs code from a file is used."""
from __future__ import annotations

import ast
import re

from helpers import ROOT

SOURCES = ["slm_backdoor", "stages", "scripts", "workflow", "Snakefile"]
# Calls that execute code stored in a file (or can): never allowed.
FORBIDDEN = re.compile(r"\b(import pickle|from pickle|pickle\.loads?|cPickle|dill|cloudpickle|"
                       r"joblib|shelve|read_pickle|torch\.jit\.load|yaml\.unsafe_load|"
                       r"yaml\.full_load|weights_only\s*=\s*False|allow_pickle\s*=\s*True|"
                       r"trust_remote_code\s*=\s*True)\b")


def source_files():
    for name in SOURCES:
        p = ROOT / name
        yield from ([p] if p.is_file() else sorted(p.rglob("*.py")) + sorted(p.rglob("*.smk")))


def _keyword(call: ast.Call, name: str):
    return next((k.value for k in call.keywords if k.arg == name), None)


def unsafe_calls(text: str, where: str) -> list[str]:
    """torch.load without weights_only=True, np.load with allow_pickle set to anything but
    False, yaml.load without SafeLoader: as `where:line: code`."""
    tree = ast.parse(text, where)
    bad = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.attr == "load"):
            continue
        mod, kw = node.func.value.id, None
        if mod == "torch":
            kw = _keyword(node, "weights_only")
            ok = isinstance(kw, ast.Constant) and kw.value is True
        elif mod in ("np", "numpy"):
            kw = _keyword(node, "allow_pickle")
            ok = kw is None or (isinstance(kw, ast.Constant) and kw.value is False)
        elif mod == "yaml":
            ok = "SafeLoader" in ast.unparse(node)
        else:
            continue
        if not ok:
            bad.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
    return bad


def test_no_source_file_loads_pickles():
    files = list(source_files())
    assert len(files) > 20
    hits = [f"{f.relative_to(ROOT)}:{i}: {line.strip()}" for f in files
            for i, line in enumerate(f.read_text().splitlines(), 1) if FORBIDDEN.search(line)]
    assert not hits, hits
    bad = [b for f in files if f.suffix == ".py"
           for b in unsafe_calls(f.read_text(), str(f.relative_to(ROOT)))]
    assert not bad, bad


def test_the_checker_catches_unsafe_loads():
    sample = ("import torch, numpy as np, yaml\n"
              "a = torch.load('x.pt')\n"
              "b = torch.load('x.pt', weights_only=True)\n"
              "c = np.load('x.npy', allow_pickle=True)\n"
              "d = yaml.load(open('p.yaml'), Loader=yaml.SafeLoader)\n"
              "e = yaml.load(open('p.yaml'))\n")
    assert [b.split(":")[1] for b in unsafe_calls(sample, "sample.py")] == ["2", "4", "6"]
    assert FORBIDDEN.search("import pickle") and FORBIDDEN.search("x = joblib.load(p)")
    assert not FORBIDDEN.search("torch.load(p, weights_only=True)")
