"""Lineage audit: the chain of recorded artifacts behind a table row, metrics file or any
artifact, with a check that each one on disk still has the hash recorded when it was made.

Reads the `<artifact>.lineage.json` records that every stage writes (lineage.write_lineage);
it never guesses a link that no record states. When a DVC lock file is given (dvc.lock),
each artifact that is a DVC out, or lies inside one, also gets the md5 DVC recorded for it
(per file, from the out's listing in the local DVC cache) beside its md5 now.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import yaml

from .lineage import record_of, sha256_tree


# -- DVC's view: dvc.lock and the directory listings in the local cache ----------------------

def _md5(path: Path) -> str | None:
    if not path.is_file():
        return None
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def dvc_outs(lock: Path) -> list[dict]:
    """Every out recorded in a dvc.lock: {stage, path, md5} (paths relative to its folder)."""
    stages = (yaml.safe_load(lock.read_text()) or {}).get("stages") or {}
    return [{"stage": name, "path": o["path"].rstrip("/"), "md5": str(o.get("md5"))}
            for name, st in stages.items() for o in st.get("outs", [])]


def _dir_listing(root: Path, md5: str) -> dict[str, str] | None:
    """relpath -> md5 of a directory out, from the local DVC cache (DVC 3, then 2 layout)."""
    for cache in (root / ".dvc/cache/files/md5", root / ".dvc/cache"):
        f = cache / md5[:2] / md5[2:]
        if f.is_file():
            return {e["relpath"]: e["md5"] for e in json.loads(f.read_text())}
    return None


def dvc_check(artifact: str, lock: Path, outs: list[dict]) -> dict | None:
    """What dvc.lock records for `artifact` (a DVC out or a file or folder inside one), checked
    against the files now; None when no out holds it."""
    root = lock.parent.resolve()
    rel = Path(os.path.relpath(Path(artifact).resolve(), root)).as_posix()
    out = next((o for o in outs if rel == o["path"] or rel.startswith(o["path"] + "/")), None)
    if out is None or rel.startswith(".."):
        return None
    info = {"lock": str(lock), "stage": out["stage"], "out": out["path"], "out_md5": out["md5"]}
    if not out["md5"].endswith(".dir"):  # a file out: the artifact itself
        now = _md5(root / rel)
        return {**info, "md5": out["md5"], "md5_now": now, "matches": now == out["md5"]}
    listing = _dir_listing(root, out["md5"])
    if listing is None:
        return {**info, "matches": None, "note": "out's file list not in the local DVC cache"}
    sub = rel[len(out["path"]) + 1:]
    files = {k: v for k, v in listing.items() if not sub or k == sub or k.startswith(sub + "/")}
    if not files:
        return {**info, "matches": None, "note": "not in the out as DVC recorded it"}
    changed = sorted(k for k, v in files.items() if _md5(root / out["path"] / k) != v)
    info.update(files=len(files), changed=changed, matches=not changed)
    if sub in files:  # a single file: its own recorded md5
        info.update(md5=files[sub], md5_now=_md5(root / rel))
    return info


# -- the lineage tree ---------------------------------------------------------------------

def _components(run: Path, rec: dict) -> dict:
    """Each component saved in a run directory: its sha256, whether it trained in this run
    (trainable.json) and where it started from (the record's sources)."""
    audit_file, sources = run / "trainable.json", rec.get("sources", {})
    if not audit_file.is_file():
        return {}
    audit = json.loads(audit_file.read_text())
    return {c: {"sha256": sha256_tree(run / c), "trained_here": bool(audit.get(c, {}).get("changed")),
                "from": sources.get(c)}
            for c in ("encoder", "connector", "lora") if (run / c).is_dir()}


def _node(path: str, seen: dict, keep=lambda inp: True, dvc=lambda path: None) -> dict:
    if path in seen:  # shared inputs (the trigger, the LLM) are shown once
        return {"artifact": path, "see_above": True}
    p = Path(path)
    node: dict = {"artifact": path, "exists": p.exists(),
                  "sha256": sha256_tree(p) if p.exists() else None}
    if (d := dvc(path)) is not None:
        node["dvc"] = d
    seen[path] = node
    found = record_of(p)
    if found is None:
        node["record"] = None
        return node
    if found[0] != p:  # a component (RUN/lora): the run that holds it has the record
        node.update(stage="component", inputs={"run": _node(str(found[0]), seen, dvc=dvc)})
        return node
    rec = found[1]
    node.update(stage=rec.get("stage"), recorded_sha256=rec.get("sha256"),
                matches=node["sha256"] == rec.get("sha256"), params=rec.get("params", {}),
                code=rec.get("code", {}))
    if p.is_dir() and (comps := _components(p, rec)):
        node["components"] = comps
    node["inputs"] = {}
    for name, inp in sorted(rec.get("inputs", {}).items()):
        if not keep(inp["path"]):
            continue
        child = _node(inp["path"], seen, dvc=dvc)
        child["recorded_by_consumer"] = inp.get("sha256")
        if child.get("sha256") is not None and inp.get("sha256") is not None:
            child["consumer_matches"] = child["sha256"] == inp["sha256"]
        node["inputs"][name] = child
    return node


def _tokens(path: str) -> set[str]:
    return set(re.split(r"[/_.]", path))


def trace(artifact: str | Path, row: dict[str, str] | None = None,
          dvc_lock: str | Path | None = None) -> dict:
    """The lineage tree of `artifact`. With `row` (e.g. {"encoder": "wavlm", "task": "age"})
    and a table, only the inputs whose path names every value of the row are followed.
    With `dvc_lock` (a dvc.lock that exists), each node also carries DVC's record."""
    want = {str(v) for v in (row or {}).values()}
    dvc = lambda path: None  # noqa: E731
    if dvc_lock and Path(dvc_lock).is_file():
        lock, outs = Path(dvc_lock), dvc_outs(Path(dvc_lock))
        dvc = lambda path: dvc_check(path, lock, outs)  # noqa: E731
    root = _node(str(artifact), {}, keep=lambda path: want <= _tokens(path), dvc=dvc)
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
    if (node.get("dvc") or {}).get("matches") is False:
        out.append(f"{a}: differs from what DVC recorded ({_render_dvc(node['dvc'])})")
    for child in node.get("inputs", {}).values():
        out.extend(problems(child))
    return out


def _render_dvc(d: dict) -> str:
    head = f"dvc.lock: stage {d['stage']}, out {d['out']} (md5 {d['out_md5'][:12]})"
    if d.get("matches") is None:
        return f"{head}: {d['note']}"
    ok = "ok" if d["matches"] else "CHANGED"
    if "md5" in d:
        return f"{head}: md5 {d['md5'][:12]}, now {str(d['md5_now'])[:12]} {ok}"
    changed = f" ({', '.join(d['changed'][:3])}{', ...' if len(d['changed']) > 3 else ''})"
    return (f"{head}: {d['files'] - len(d['changed'])}/{d['files']} files match {ok}"
            + (changed if d["changed"] else ""))


def render(node: dict, indent: int = 0, name: str = "") -> list[str]:
    pad = "  " * indent
    label = f"{name}: " if name else ""
    if node.get("see_above"):
        return [f"{pad}{label}{node['artifact']} (see above)"]
    if node.get("record", True) is None:
        state = "missing" if not node["exists"] else f"sha256 {str(node['sha256'])[:12]}, no record"
        return [f"{pad}{label}{node['artifact']} ({state})"]
    if node["stage"] == "component":
        return ([f"{pad}{label}{node['artifact']}  [component] sha256 {str(node['sha256'])[:12]}"]
                + render(node["inputs"]["run"], indent + 1, "saved by"))
    ok = "ok" if node.get("matches") and node.get("consumer_matches", True) else "CHANGED"
    code = node.get("code") or {}
    commit = (code.get("commit") or "no git")[:10] + ("+dirty" if code.get("dirty") else "")
    lines = [f"{pad}{label}{node['artifact']}  [{node['stage']}] sha256 "
             f"{str(node['sha256'])[:12]} {ok}  code {commit}"]
    if node.get("params"):
        lines.append(f"{pad}    params {json.dumps(node['params'], sort_keys=True)}")
    for c, m in node.get("components", {}).items():
        how = "trained here" if m["trained_here"] else "frozen"
        lines.append(f"{pad}    {c} sha256 {m['sha256'][:12]} ({how}, from {m['from']})")
    if node.get("dvc"):
        lines.append(f"{pad}    {_render_dvc(node['dvc'])}")
    for k, child in node.get("inputs", {}).items():
        lines.extend(render(child, indent + 1, k))
    return lines
