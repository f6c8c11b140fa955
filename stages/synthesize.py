"""Synthesize one corpus with eSpeak NG (the tiny profile's embedded data).

    python stages/synthesize.py CORPUS --params '{"source": "synthetic", "kind": "read",
        "speakers": {"train": 30, "dev": 4, "test": 8}, "clips_per_speaker": 30}' \
        --seed 1234 --out data/manifests/CORPUS [--audio-out data/audio/CORPUS]

Writes OUT/<split>.csv (manifest columns plus `alignment`), OUT/lexicon.txt,
OUT/speakers.csv, the WAVs under AUDIO_OUT/<split>/ (default: OUT/../../audio/CORPUS),
and OUT/<split>.csv.lineage.json. Both directories are built in temporary siblings and
renamed into place, audio first. Bad params (an unknown or misspelt key included: the
section is checked against workflow/schemas/params.schema.yaml, as Snakemake checks
params.yaml): one line on stderr naming the key, exit 2, nothing written.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # repo root, not stages/ (no shadowing)

from slm_backdoor.cli import corpus_parser, json_arg, run_stage  # noqa: E402
from slm_backdoor.corpora.espeak import EspeakError  # noqa: E402
from slm_backdoor.corpora.synthetic import build_corpus  # noqa: E402
from slm_backdoor.lineage import sha256_tree, write_lineage  # noqa: E402

STAGE = "synthesize"


def main(argv=None) -> None:
    ap = corpus_parser(__doc__.splitlines()[0], "WAV")
    a = ap.parse_args(argv)
    out = Path(a.out)
    import torch  # one thread: resampling short clips gains nothing from more, and cores are shared
    torch.set_num_threads(1)
    audio_out = Path(a.audio_out) if a.audio_out else out.parent.parent / "audio" / a.corpus
    cfg = json_arg(a.params, schema="/$defs/corpus")
    t0 = time.time()
    manifests = build_corpus(a.corpus, cfg, a.seed, manifest_dir=out, audio_dir=audio_out,
                             progress=not a.no_progress)
    elapsed = time.time() - t0
    for split, path in manifests.items():
        n = sum(1 for _ in open(path)) - 1
        write_lineage(path, STAGE, inputs={}, params={**cfg, "seed": a.seed, "corpus": a.corpus},
                      extra={"audio_dir": str(audio_out / split),
                             "audio_sha256": sha256_tree(audio_out / split),
                             "n_clips": n})
    total = sum(sum(1 for _ in open(p)) - 1 for p in manifests.values())
    print(f"{STAGE}: wrote {a.corpus}: {total} clips in {', '.join(manifests)} "
          f"to {out} and {audio_out} ({elapsed:.1f} s, {total / max(elapsed, 1e-9):.1f} clips/s)")


if __name__ == "__main__":
    run_stage(main, errors=(EspeakError,))
