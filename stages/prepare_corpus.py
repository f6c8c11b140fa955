"""Load one real corpus from its official on-disk layout and write its manifests.

    python stages/prepare_corpus.py CORPUS --params '{"source": "librispeech",
        "root": "/data/LibriSpeech", "subsets": {"train": "train-clean-360",
        "dev": "dev-clean", "test": "test-clean"}}' --seed 1234 --sr 16000 \
        --out data/manifests/CORPUS [--audio-out data/audio/CORPUS]

Writes OUT/<split>.csv (manifest columns; paths point at the corpus files), OUT/lexicon.txt,
OUT/speakers.csv, resampled audio (if any, with `resample: true`) under AUDIO_OUT/<split>/,
and OUT/<split>.csv.lineage.json (params, the label files' hashes, a fingerprint of the
audio files, clips left out by reason). Sources: librispeech, cremad, voxceleb, iemocap,
kaldi (slm_backdoor/corpora/real). Every clip is read whole, as training reads it. A missing
or malformed tree, a bad clip or an unknown params key: one line on stderr naming the file
and line (or the params key), exit 2, nothing written.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # repo root, not stages/ (no shadowing)

from slm_backdoor.audio import SAMPLE_RATE  # noqa: E402
from slm_backdoor.cli import corpus_parser, json_arg, run_stage  # noqa: E402
from slm_backdoor.corpora.real import SYNTHETIC_KEYS, prepare_corpus  # noqa: E402
from slm_backdoor.lineage import write_lineage  # noqa: E402

STAGE = "prepare_corpus"


def main(argv=None) -> None:
    ap = corpus_parser(__doc__.splitlines()[0], "resampled audio")
    ap.add_argument("--sr", type=int, default=SAMPLE_RATE, help="expected sample rate (Hz)")
    a = ap.parse_args(argv)
    import torch  # resampling (if any) gains nothing from more threads; cores are shared
    torch.set_num_threads(1)
    cfg = json_arg(a.params, schema="/$defs/corpus")
    cfg = {k: v for k, v in cfg.items() if k not in SYNTHETIC_KEYS}  # read by synthesize only
    out = Path(a.out)
    audio_out = Path(a.audio_out) if a.audio_out else out.parent.parent / "audio" / a.corpus
    t0 = time.time()
    info = prepare_corpus(a.corpus, cfg, a.seed, out, audio_out, sr=a.sr,
                          progress=not a.no_progress)
    elapsed = time.time() - t0
    inputs = {f"label_file{i}": p for i, p in enumerate(info["metadata"])}
    for split, path in info["manifests"].items():
        write_lineage(path, STAGE, inputs=inputs,
                      params={**cfg, "seed": a.seed, "corpus": a.corpus, "sr": a.sr},
                      extra={k: info[k] for k in ("root", "source", "listing_sha256", "skipped",
                                                   "resampled")}
                      | {"audio_dir": str(audio_out), "n_clips": info["n_clips"][split]})
    total = sum(info["n_clips"].values())
    left_out = ", ".join(f"{k} {v}" for k, v in info["skipped"].items()) or "none"
    print(f"{STAGE}: wrote {a.corpus} ({info['source']} at {info['root']}): {total} clips "
          f"({', '.join(f'{s} {n}' for s, n in info['n_clips'].items())}) to {out} in "
          f"{elapsed:.1f} s; left out: {left_out}; resampled: {info['resampled']}")


if __name__ == "__main__":
    run_stage(main)
