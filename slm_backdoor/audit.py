"""Lineage audit: the chain of recorded artifacts behind a table row, metrics file or any
artifact, with a check that each one on disk still has the hash recorded when it was made.

Reads the `<artifact>.lineage.json` records that every stage writes (lineage.write_lineage);
it never guesses a link that no record states.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from .lineage import lineage_path, sha256_tree


def _node(path: str, seen: dict, keep=lambda inp: True) -> dict:
    if path in seen:  # shared inputs (the trigger, the LLM) are shown once
        return {"artifact": path, "see_above": True}
    p = Path(path)
    rec_file = lineage_path(p)
    node: dict = {"artifact": path, "exists": p.exists()}
    current = sha256_tree(p) if p.exists() else None
    if not rec_file.exists():
        node.update(record=None, sha256=current)
        seen[path] = node
        return node
    rec = json.loads(rec_file.read_text())
    node.update(stage=rec.get("stage"), recorded_sha256=rec.get("sha256"), sha256=current,
                matches=current == rec.get("sha256"), params=rec.get("params", {}),
                code=rec.get("code", {}))
    seen[path] = node
    node["inputs"] = {}
    for name, inp in sorted(rec.get("inputs", {}).items()):
        if not keep(inp["path"]):
            continue
        child = _node(inp["path"], seen)
        child["recorded_by_consumer"] = inp.get("sha256")
        if child.get("sha256") is not None and inp.get("sha256") is not None:
            child["consumer_matches"] = child["sha256"] == inp["sha256"]
        node["inputs"][name] = child
    return node


def _tokens(path: str) -> set[str]:
    return set(re.split(r"[/_.]", path))


def trace(artifact: str | Path, row: dict[str, str] | None = None) -> dict:
    """The lineage tree of `artifact`. With `row` (e.g. {"encoder": "wavlm", "task": "age"})
    and a table, only the inputs whose path names every value of the row are followed."""
    want = {str(v) for v in (row or {}).values()}
    root = _node(str(artifact), {}, keep=lambda path: want <= _tokens(path))
    if row:
        root["row"] = row
        if not root.get("inputs"):
            raise ValueError(f"{artifact}: no recorded input matches the row {row}")
    return root


def problems(node: dict) -> list[str]:
    """Every artifact of the tree that is missing or no longer matches its recorded hash."""
    out = []
    if node.get("see_above"):
        return out
    a = node["artifact"]
    if not node.get("exists", True):
        out.append(f"{a}: missing")
    elif node.get("matches") is False:
        out.append(f"{a}: changed since it was made (recorded {node['recorded_sha256'][:12]}, "
                   f"now {node['sha256'][:12]})")
    if node.get("consumer_matches") is False:
        out.append(f"{a}: differs from what its consumer read (recorded "
                   f"{node['recorded_by_consumer'][:12]}, now {node['sha256'][:12]})")
    for child in node.get("inputs", {}).values():
        out.extend(problems(child))
    return out


def render(node: dict, indent: int = 0, name: str = "") -> list[str]:
    pad = "  " * indent
    label = f"{name}: " if name else ""
    if node.get("see_above"):
        return [f"{pad}{label}{node['artifact']} (see above)"]
    if node.get("record") is None and "stage" not in node:
        state = "missing" if not node["exists"] else f"sha256 {str(node['sha256'])[:12]}, no record"
        return [f"{pad}{label}{node['artifact']} ({state})"]
    ok = "ok" if node.get("matches") and node.get("consumer_matches", True) else "CHANGED"
    code = node.get("code") or {}
    commit = (code.get("commit") or "no git")[:10] + ("+dirty" if code.get("dirty") else "")
    lines = [f"{pad}{label}{node['artifact']}  [{node['stage']}] sha256 "
             f"{str(node['sha256'])[:12]} {ok}  code {commit}"]
    if node.get("params"):
        lines.append(f"{pad}    params {json.dumps(node['params'], sort_keys=True)}")
    for k, child in node.get("inputs", {}).items():
        lines.extend(render(child, indent + 1, k))
    return lines
