"""The README and the design notes: commands a user can type as written, and no pointer
to files outside the repository."""
from __future__ import annotations

import re
import subprocess

from helpers import ROOT


def tracked_text_files():
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    for name in names:
        path = ROOT / name
        if path.is_file() and path.suffix in {".md", ".py", ".smk", ".yaml", ".rst", ""}:
            yield name, path.read_text(errors="replace")


def test_no_reference_points_outside_the_repository():
    outside = "../" + "shared"  # the old home of the design notes, outside a clone
    bad = [name for name, text in tracked_text_files() if outside in text]
    assert not bad, bad
    assert (ROOT / "docs" / "DESIGN.md").is_file()
    assert "`docs/DESIGN.md`" in (ROOT / "README.md").read_text()


def test_design_has_the_sections_the_code_cites():
    design = (ROOT / "docs" / "DESIGN.md").read_text()
    sections = re.findall(r"^## (\d)\. ", design, re.M)
    cited = {m for _, text in tracked_text_files()
             for m in re.findall(r"DESIGN\.md (?:s|section )(\d)", text)}
    assert cited and cited <= set(sections), (cited, sections)


def snakemake_commands(text: str) -> list[list[str]]:
    """The snakemake command lines of the README's code blocks, split into words (comments
    dropped)."""
    return [line.split("#")[0].split() for line in text.splitlines()
            if line.startswith("    ") and re.match(r"\s+\S*snakemake\s", line)]


def test_readme_targets_are_not_eaten_by_configfile():
    """`--configfile` takes every following word as a config file: in every README command,
    the words after it up to the next option are YAML files (targets come first, or after
    `--`)."""
    commands = snakemake_commands((ROOT / "README.md").read_text())
    assert any("--configfile" in c for c in commands)
    for words in commands:
        if "--configfile" not in words:
            continue
        after = words[words.index("--configfile") + 1:]
        files = after[: next((i for i, w in enumerate(after) if w.startswith("-")), len(after))]
        assert files and all(w.endswith((".yaml", ".yml")) for w in files), " ".join(words)


def test_readme_points_at_the_workflow_profile():
    readme = (ROOT / "README.md").read_text()
    assert "profiles/default" in readme and "workflow/profiles/default" not in readme


# -- the README as a short user's guide: the rest lives in docs/, and every path it names exists

DOCS = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]


def code_lines(text: str) -> list[str]:
    """The lines of a Markdown file's indented code blocks (comments dropped)."""
    return [line.split(" #")[0] for line in text.splitlines() if line.startswith("    ")]


def test_readme_is_a_short_guide():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) < 250, len(lines)


def test_every_doc_the_docs_cite_exists():
    for name in DOCS:
        cited = set(re.findall(r"\bdocs/[\w.-]+\.md\b", (ROOT / name).read_text()))
        missing = [c for c in cited if not (ROOT / c).is_file()]
        assert not missing, (name, missing)
    readme = (ROOT / "README.md").read_text()
    assert all(f"`docs/{d}.md`" in readme for d in ("DESIGN", "RESULTS", "USAGE"))


def test_paths_in_the_docs_exist():
    """Every script, stage, profile, module or test file a documented command (or a
    `quoted` path) names is in the repository (a user's own files, such as my_paths.yaml,
    and the pipeline's outputs are not of these folders)."""
    prefixes = ("stages/", "scripts/", "workflow/", "tests/", "profiles/", "slm_backdoor/")
    for name in DOCS:
        text = (ROOT / name).read_text()
        words = {w.strip("`'\",;()") for line in code_lines(text) for w in line.split()}
        words |= set(re.findall(r"`([\w./-]+)`", text))
        named = {w for w in words if w.startswith(prefixes) and "<" not in w and "*" not in w}
        missing = sorted(w for w in named if not (ROOT / w).exists())
        assert not missing, (name, missing)


def test_make_targets_in_the_docs_exist():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([\w-]+):", makefile, re.M))
    for name in DOCS:
        text = (ROOT / name).read_text()
        used = set(re.findall(r"`make ([a-z][\w-]*)", text))
        used |= {line.split()[1] for line in code_lines(text) if line.split()[:1] == ["make"]}
        assert used <= targets, (name, used - targets)
    assert "results-doc" in targets


def test_sections_the_code_cites_are_in_the_readme():
    headings = set(re.findall(r"^## (.+)$", (ROOT / "README.md").read_text(), re.M))
    cited = {m for _, text in tracked_text_files()
             for m in re.findall(r'README ["]([^"]+)"|README[:] ([A-Z][\w ]+)\)', text)}
    cited = {quoted or colon for quoted, colon in cited}
    assert cited and cited <= headings, (cited - headings)


def test_docs_snakemake_commands_keep_targets_before_configfile():
    commands = snakemake_commands((ROOT / "docs" / "USAGE.md").read_text())
    assert any("--configfile" in c for c in commands)
    for words in commands:
        if "--configfile" in words:
            after = words[words.index("--configfile") + 1:]
            files = after[: next((i for i, w in enumerate(after) if w.startswith("-")), len(after))]
            assert files and all(w.endswith((".yaml", ".yml")) for w in files), " ".join(words)
