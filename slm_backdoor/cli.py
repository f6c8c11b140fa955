"""Plumbing shared by the stage CLIs: JSON params, seeding, threads, one-line errors."""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path
from typing import Callable


class StageError(ValueError):
    """Bad input to a stage: the message names the file and field (or params key)."""


# The schema Snakemake checks params.yaml against; a stage run alone checks its own section.
SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "params.schema.yaml"


def check_section(value, pointer: str, name: str) -> None:
    """Validate a params section against the part of params.schema.yaml at `pointer` (e.g.
    "/$defs/corpus"), as Snakemake validates the whole config: a stage run alone refuses a
    typo'd key (or a bad value) in one line naming it, instead of ignoring it."""
    import jsonschema
    import yaml
    schema = yaml.safe_load(SCHEMA.read_text())
    part = schema
    for key in pointer.strip("/").split("/"):
        part = part[key]
    validator = jsonschema.Draft202012Validator({"$defs": schema["$defs"], "allOf": [part]})
    err = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if err is not None:
        where = ".".join(str(k) for k in err.absolute_path) or "(top level)"
        raise StageError(f"{name}: {where}: {err.message}")


def json_arg(text: str, name: str = "--params", kind: type = dict, schema: str | None = None):
    """A JSON command-line argument: an object (default) or, with kind=list, a list of
    objects; anything else is a StageError naming the argument. `schema`: a pointer into
    params.schema.yaml the object must match (check_section)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise StageError(f"{name}: not valid JSON ({e})") from None
    if kind is list:
        if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
            raise StageError(f"{name}: expected a JSON list of objects")
    elif not isinstance(value, dict):
        raise StageError(f"{name}: expected a JSON object")
    if schema:
        check_section(value, schema, name)
    return value


def corpus_parser(description: str, audio_help: str) -> argparse.ArgumentParser:
    """The command line shared by the stages that write a corpus (synthesize, prepare_corpus):
    CORPUS --params JSON --seed N --out MANIFEST_DIR [--audio-out DIR] [--no-progress]."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("corpus", help="corpus name (the key under `corpora` in params.yaml)")
    ap.add_argument("--params", required=True, help="the corpora.CORPUS section, as JSON")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="manifest directory, e.g. data/manifests/CORPUS")
    ap.add_argument("--audio-out", default=None,
                    help=f"{audio_help} directory (default: OUT/../../audio/CORPUS)")
    ap.add_argument("--no-progress", action="store_true")
    return ap


def seed_everything(seed: int, threads: int | None = None) -> None:
    import numpy as np
    import torch
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.set_num_threads(threads or int(os.environ.get("SLM_THREADS", "1")))


def run_stage(main: Callable[[], None], errors: tuple[type[BaseException], ...] = ()) -> None:
    """Run a stage's main(); a known bad input (or one of `errors`) becomes one line on
    stderr, ``<stage>: error: <message>``, and exit 2."""
    from .audio import AudioError
    from .manifest import ManifestError
    try:
        main()
    except (StageError, ManifestError, AudioError, FileNotFoundError, KeyError, ValueError,
            *errors) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"{Path(sys.argv[0]).stem}: error: {msg}", file=sys.stderr)
        sys.exit(2)
