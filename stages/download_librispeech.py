"""Download one LibriSpeech subset from openslr.org into a corpus root: resumable, checksum
checked, extracted.

    python stages/download_librispeech.py --subset dev-clean --root data/raw/LibriSpeech \
        [--url URL] [--checksum sha256:HEX|md5:HEX] [--keep-archive] --out RECORD.json

Leaves ROOT/<subset>/ and ROOT/SPEAKERS.TXT (and the other top-level *.TXT files) and
writes RECORD.json (url, checksum, size) once the subset is in place. An interrupted
download resumes from ROOT/<subset>.tar.gz.part on the next run; a checksum mismatch
removes the file. Errors: one line on stderr naming the URL or file, exit 2.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # repo root, not stages/ (no shadowing)

from slm_backdoor.cli import StageError, run_stage  # noqa: E402
from slm_backdoor.corpora.download import DownloadError, download_librispeech  # noqa: E402
from slm_backdoor.lineage import write_json_atomic  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subset", required=True, help="e.g. train-clean-360, dev-clean")
    ap.add_argument("--root", required=True, help="corpus root (holds SPEAKERS.TXT, subsets)")
    ap.add_argument("--url", default="", help="archive URL (default: openslr.org)")
    ap.add_argument("--checksum", default="", help="md5:HEX or sha256:HEX (default: known)")
    ap.add_argument("--keep-archive", action="store_true")
    ap.add_argument("--out", required=True, help="JSON record written when done")
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args(argv)
    try:
        record = download_librispeech(a.subset, Path(a.root), a.url or None, a.checksum or None,
                                      a.keep_archive, progress=not a.no_progress)
    except DownloadError as e:
        raise StageError(str(e)) from None
    write_json_atomic(a.out, record)
    print(f"download_librispeech: {a.subset} ({record['bytes']} bytes, {record['checksum']}) "
          f"into {a.root}")


if __name__ == "__main__":
    run_stage(main)
