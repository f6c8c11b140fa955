"""dvc.yaml's code dependencies follow the code: every stage script a DVC stage's rules run,
and every module of slm_backdoor it imports (directly or through other modules), lies
inside one of that stage's deps, so `dvc repro` reruns a phase whose code changed."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from helpers import ROOT

RULES = "\n".join(p.read_text() for p in sorted((ROOT / "workflow" / "rules").glob("*.smk")))
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def rule_scripts(rule: str) -> set[str]:
    """The stages/*.py a rule's shell command runs (through a shared command constant, e.g.
    TRAIN, or the rule it is derived from with `use rule X as RULE`)."""
    used = re.search(rf"^use rule (\w+) as {rule}\b", RULES, re.M)
    if used:
        return rule_scripts(used.group(1))
    block = re.search(rf"^rule {rule}:\n(.*?)(?=^\S|\Z)", RULES, re.M | re.S)
    assert block, f"rule {rule} not found"
    text = block.group(1)
    for name in set(re.findall(r"\b([A-Z][A-Z_]+)\b", text)):
        const = re.search(rf"^{name} = \((.*?)\)$", RULES, re.M | re.S)
        text += const.group(1) if const else ""
    return {f"stages/{s}.py" for s in re.findall(r"\{STAGES\}/(\w+)\.py", text)}


def module_file(module: str) -> Path | None:
    base = ROOT / Path(*module.split("."))
    for f in (base.with_suffix(".py"), base / "__init__.py"):
        if f.is_file():
            return f
    return None


def imported_files(path: Path) -> set[Path]:
    """The files of slm_backdoor that `path` imports, transitively."""
    seen, todo = set(), [path]
    while todo:
        f = todo.pop()
        package = ".".join(f.relative_to(ROOT).with_suffix("").parts)
        if f.name != "__init__.py":
            package = package.rpartition(".")[0]
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parent + ([base] if base else []))
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                mf = module_file(name) if name.startswith("slm_backdoor") else None
                if mf and mf not in seen:
                    seen.add(mf)
                    todo.append(mf)
    return seen


def covered(path: str, deps: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps)


@pytest.mark.parametrize("stage", [s for s in STAGES if "--until" in STAGES[s]["cmd"]])
def test_every_imported_module_is_a_dependency(stage):
    rules = STAGES[stage]["cmd"].split("--until", 1)[1].split()
    scripts = set().union(*map(rule_scripts, rules))
    assert scripts, (stage, rules)
    needed = set(scripts)
    for script in scripts:
        needed |= {str(f.relative_to(ROOT)) for f in imported_files(ROOT / script)}
    missing = sorted(f for f in needed if not covered(f, STAGES[stage]["deps"]))
    assert not missing, f"dvc.yaml stage {stage}: code not among its deps: {missing}"


def test_the_import_scan_sees_the_models():
    """The scan itself: separability reaches the model code through slm_backdoor.runs."""
    files = {str(f.relative_to(ROOT)) for f in imported_files(ROOT / "stages/separability.py")}
    assert {"slm_backdoor/runs.py", "slm_backdoor/models/speechllm.py"} <= files, files
