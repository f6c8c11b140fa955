"""Fetching public corpus archives: resumable HTTP download (Range requests), checksum
check, extraction. Used for LibriSpeech (https://www.openslr.org/12); the other corpora
need a licence or are fetched by hand (see real.OBTAIN and README "Real corpora").

The archive is downloaded to `<root>/<subset>.tar.gz.part`; an interrupted download
resumes from there on the next run (a server that ignores Range starts it over). A
complete download is checked against its md5 or sha256 (a mismatch removes the partial
file: the next run starts afresh), extracted in a temporary folder under the root and
moved into place (`<root>/<subset>/` and the top-level `*.TXT` files such as
SPEAKERS.TXT), so an interrupted extraction leaves nothing half-written.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

OPENSLR = "https://www.openslr.org/resources/12"
SUBSETS = ("dev-clean", "dev-other", "test-clean", "test-other", "train-clean-100",
           "train-clean-360", "train-other-500")
# sha256 of the openslr archives (as published with torchaudio.datasets.LIBRISPEECH).
SHA256 = {
    "dev-clean": "76f87d090650617fca0cac8f88b9416e0ebf80350acb97b343a85fa903728ab3",
    "dev-other": "12661c48e8c3fe1de2c1caa4c3e135193bfb1811584f11f569dd12645aa84365",
    "test-clean": "39fde525e59672dc6d1551919b1478f724438a95aa55f874b576be21967e6c23",
    "test-other": "d09c181bba5cf717b3dee7d4d592af11a3ee3a09e08ae025c5506f6ebe961c29",
    "train-clean-100": "d4ddd1d5a6ab303066f14971d768ee43278a5f2a0aa43dc716b0e64ecbbbf6e2",
    "train-clean-360": "146a56496217e96c14334a160df97fffedd6e0a04e66b9c5af0d40be3c792ecf",
    "train-other-500": "ddb22f27f96ec163645d53215559df6aa36515f26e01dd70798188350adcb6d2",
}
CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A download, checksum or extraction failed; one line naming the URL or file."""


def parse_checksum(text: str) -> tuple[str, str]:
    """'md5:HEX', 'sha256:HEX' or bare HEX (32 digits: md5, 64: sha256) -> (algorithm, hex)."""
    algo, _, digest = text.strip().lower().rpartition(":")
    algo = algo or {32: "md5", 64: "sha256"}.get(len(digest), "")
    if algo not in ("md5", "sha256") or len(digest) != {"md5": 32, "sha256": 64}[algo] or \
            any(c not in "0123456789abcdef" for c in digest):
        raise DownloadError(f"checksum {text!r}: expected 'md5:<32 hex>' or 'sha256:<64 hex>'")
    return algo, digest


def file_digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def _progress(total: int | None, initial: int, desc: str, enabled: bool, unit: str = "B"):
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, unit_scale=unit == "B",
                unit_divisor=1024, disable=not enabled, file=sys.stderr, dynamic_ncols=True,
                mininterval=0.5 if sys.stderr.isatty() else 10)


def _open(url: str, start: int, timeout: float):
    """(response, offset it starts at); (None, start) when nothing is left past `start`."""
    req = urllib.request.Request(url, headers={"Range": f"bytes={start}-"} if start else {})
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and start:  # range not satisfiable: the partial file is complete
            return None, start
        raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        raise DownloadError(f"{url}: {getattr(e, 'reason', e)}") from None
    if resp.status != 206:  # a full response (the server ignores Range): start over
        return resp, 0
    if not resp.headers.get("Content-Range", "").startswith(f"bytes {start}-"):
        resp.close()
        raise DownloadError(f"{url}: asked for bytes {start}- but got "
                            f"{resp.headers.get('Content-Range')!r}")
    return resp, start


def fetch(url: str, dest: Path, progress: bool = True, timeout: float = 60.0) -> Path:
    """Download url to dest, resuming `dest.part` if a previous run left one."""
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    start = part.stat().st_size if part.exists() else 0
    resp, start = _open(url, start, timeout)
    if resp is None:
        os.replace(part, dest)
        return dest
    length = resp.headers.get("Content-Length")
    total = start + int(length) if length is not None else None
    got = start
    with resp, open(part, "ab" if start else "wb") as f, \
            _progress(total, start, f"download {dest.name}", progress) as bar:
        try:
            while block := resp.read(CHUNK):
                f.write(block)
                got += len(block)
                bar.update(len(block))
        except (OSError, http.client.HTTPException) as e:
            raise DownloadError(f"{url}: interrupted after {got} bytes ({e}); run again to "
                                f"resume from {part}") from None
    if total is not None and got < total:
        raise DownloadError(f"{url}: interrupted after {got} of {total} bytes; run again to "
                            f"resume from {part}")
    os.replace(part, dest)
    return dest


def verify(path: Path, checksum: str) -> str:
    """Check path against its checksum; a mismatch deletes it (a fresh download is needed)."""
    algo, want = parse_checksum(checksum)
    got = file_digest(path, algo)
    if got != want:
        path.unlink()
        raise DownloadError(f"{path}: {algo} mismatch (expected {want}, got {got}); the file "
                            f"was removed, run again to download it afresh")
    return f"{algo}:{got}"


def extract_librispeech(archive: Path, root: Path, subset: str, progress: bool = True) -> Path:
    """Unpack `LibriSpeech/<subset>/` (and the `LibriSpeech/*.TXT` files) into root."""
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".extract.{subset}.", dir=root) as tmp:
        try:
            # One streaming pass (r|*: a random-access read of a .tar.gz decompresses twice).
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # 3.11.4+
            with tarfile.open(archive, mode="r|*") as tf, \
                    _progress(None, 0, f"extract {archive.name}", progress, "file") as bar:
                for member in tf:
                    tf.extract(member, tmp, **safe)
                    bar.update(1)
        except (tarfile.TarError, OSError, EOFError) as e:
            raise DownloadError(f"{archive}: not a readable tar.gz archive ({e})") from None
        top = Path(tmp) / "LibriSpeech"
        if not (top / subset).is_dir():
            raise DownloadError(f"{archive}: no LibriSpeech/{subset}/ folder inside")
        for txt in top.glob("*.TXT"):
            os.replace(txt, root / txt.name)
        if (root / subset).exists():
            shutil.rmtree(root / subset)
        os.replace(top / subset, root / subset)
    return root / subset


def download_librispeech(subset: str, root: Path, url: str | None = None,
                         checksum: str | None = None, keep_archive: bool = False,
                         progress: bool = True) -> dict:
    """Fetch, verify and extract one LibriSpeech subset; return what was done (for a record)."""
    url = url or f"{OPENSLR}/{subset}.tar.gz"
    checksum = checksum or (f"sha256:{SHA256[subset]}" if subset in SHA256 else None)
    if not checksum:
        raise DownloadError(f"{subset}: no known checksum; give one (md5:... or sha256:...)")
    parse_checksum(checksum)  # a malformed checksum fails before any download
    archive = root / f"{subset}.tar.gz"
    if not archive.exists():
        fetch(url, archive, progress)
    digest = verify(archive, checksum)
    size = archive.stat().st_size
    extract_librispeech(archive, root, subset, progress)
    if not keep_archive:
        archive.unlink()
    return {"url": url, "checksum": digest, "bytes": size, "root": str(root), "subset": subset}
