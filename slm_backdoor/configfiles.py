"""Config files handed to Snakemake (`params.yaml`, `--configfile FILE ...`) checked before
Snakemake reads them, so that a binary, missing, malformed or non-mapping file is one line
naming it instead of a Python traceback.

Snakemake 9 loads `--configfile` files while it builds its settings, before the Snakefile
runs (snakemake.settings.types.ConfigSettings -> snakemake.common.configfile), and turns
only yaml.YAMLError into a one-line WorkflowError (which does not name the file): a
UnicodeDecodeError (binary file) or a FileNotFoundError (opened outside its try) comes out
as a traceback. The one hook that runs earlier is the workflow profile: Snakemake reads
`profiles/default/config.yaml` (and any `--workflow-profile`) through YTE, whose
`__definitions__` are Python statements run while the profile is parsed. Those profiles
call check_command_line(), which exits 1 with ``invalid config: FILE: ...`` on stderr.
The Snakefile checks its own `configfile:` (params.yaml) with problem().
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

OPTIONS = ("--configfile", "--configfiles")  # one Snakemake option, nargs="+"


def configfile_args(argv: list[str]) -> list[str]:
    """The files Snakemake's `--configfile` / `--configfiles` take from a command line: every
    word after the option up to the next one starting with '-' (or `--opt=FILE`)."""
    files, taking = [], False
    for word in argv:
        if word == "--":
            taking = False
        elif word in OPTIONS:
            taking = True
        elif word.startswith("-"):
            taking = False
            option, eq, value = word.partition("=")
            if eq and option in OPTIONS:
                files.append(value)
        elif taking:
            files.append(word)
    return files


def problem(path: str | Path) -> str | None:
    """What keeps Snakemake from reading `path` as a config file (a JSON or YAML mapping),
    as ``PATH: reason``; None when it reads."""
    import yaml

    try:
        text = Path(path).read_bytes().decode("utf-8")
    except FileNotFoundError:
        return f"{path}: no such file"
    except IsADirectoryError:
        return f"{path}: a directory, not a config file"
    except OSError as e:
        return f"{path}: unreadable ({e.strerror})"
    except UnicodeDecodeError as e:
        return f"{path}: not a YAML text file ({e.reason} at byte {e.start})"
    try:
        top = type(json.loads(text)).__name__
        return None if top == "dict" else f"{path}: expected a mapping of keys, got a JSON {top}"
    except ValueError:
        pass  # not JSON: Snakemake then reads it as YAML
    try:
        node = yaml.compose(text)  # syntax only: Snakemake's own loader builds the values
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        at = f"line {where.line + 1}: " if where is not None else ""
        reason = getattr(e, "problem", None) or str(e).splitlines()[0]
        return f"{path}: not valid YAML ({at}{reason})"
    if not isinstance(node, yaml.MappingNode):
        got = "an empty file" if node is None else f"a YAML {node.id}"
        return f"{path}: expected a mapping of keys, got {got}"
    return None


def check_command_line(argv: list[str] | None = None) -> None:
    """Every `--configfile` of the command line (default: sys.argv) checked with problem():
    the first bad one is one line on stderr, ``invalid config: FILE: reason``, and exit 1."""
    for path in configfile_args(sys.argv[1:] if argv is None else argv):
        message = problem(path)
        if message:
            print(f"invalid config: {message}", file=sys.stderr)
            raise SystemExit(1)
