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
