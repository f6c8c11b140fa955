"""LibriSpeech download (slm_backdoor/corpora/download.py, stages/download_librispeech.py,
rule download_librispeech) against a local HTTP server with Range support: an interrupted
download resumes, a checksum mismatch is an error, the archive is extracted into the root."""
from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

import corpus_trees as trees
from helpers import copy_workflow, run_stage, snakemake
from slm_backdoor.corpora.download import DownloadError, download_librispeech, parse_checksum
from slm_backdoor.manifest import read_manifest

SUBSETS = ("train-clean-100", "dev-clean", "test-clean")


@dataclass
class Server:
    """What the handler serves and how: files by URL path, Range support, one cut."""
    files: dict[str, bytes] = field(default_factory=dict)
    ranges: bool = True
    cut_after: int | None = None  # the next response stops after this many bytes
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    url: str = ""


def handler(state: Server):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            state.requests.append((self.path, self.headers.get("Range")))
            data = state.files.get(self.path)
            if data is None:
                return self.send_error(404)
            m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
            start = int(m.group(1)) if m and state.ranges else 0
            if start >= len(data) > 0 and m:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                return self.end_headers()
            self.send_response(206 if start else 200)
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            body = data[start:]
            if state.cut_after is not None:  # the connection drops mid-body
                body, state.cut_after = body[:state.cut_after], None
            self.wfile.write(body)
    return Handler


@pytest.fixture
def server():
    state = Server()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler(state))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield state
    httpd.shutdown()
    httpd.server_close()


def archive(tmp_path: Path, subset: str) -> bytes:
    """A LibriSpeech-like <subset>.tar.gz: LibriSpeech/<subset>/... and LibriSpeech/SPEAKERS.TXT
    (every subset's speakers, as in the real archives)."""
    src = tmp_path / "src" / "LibriSpeech"
    if not src.exists():
        trees.librispeech(src, subsets=SUBSETS)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name in (subset, "SPEAKERS.TXT"):
            tf.add(src / name, arcname=f"LibriSpeech/{name}")
    return buf.getvalue()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def dev_clean(tmp_path, server):
    data = archive(tmp_path, "dev-clean")
    server.files["/12/dev-clean.tar.gz"] = data
    return data, f"{server.url}/12/dev-clean.tar.gz"


def test_interrupted_download_resumes_with_a_range_request(tmp_path, server, dev_clean):
    data, url = dev_clean
    root = tmp_path / "LibriSpeech"
    server.cut_after = 5000
    with pytest.raises(DownloadError, match=rf"interrupted after 5000 of {len(data)} bytes; run "
                                            r"again to resume from .*dev-clean.tar.gz.part"):
        download_librispeech("dev-clean", root, url, sha256(data), progress=False)
    assert (root / "dev-clean.tar.gz.part").stat().st_size == 5000
    assert not (root / "dev-clean").exists()

    record = download_librispeech("dev-clean", root, url, sha256(data), progress=False)
    assert server.requests[-1] == ("/12/dev-clean.tar.gz", "bytes=5000-")
    assert record["checksum"] == sha256(data) and record["bytes"] == len(data)
    assert sorted(p.name for p in (root / "dev-clean/84/1000").iterdir()) == [
        "84-1000-0000.flac", "84-1000-0001.flac", "84-1000.trans.txt"]
    assert "dev-clean" in (root / "SPEAKERS.TXT").read_text()
    assert sorted(p.name for p in root.iterdir()) == ["SPEAKERS.TXT", "dev-clean"]  # no leftovers


def test_server_without_range_support_starts_over(tmp_path, server, dev_clean):
    data, url = dev_clean
    server.ranges = False
    root = tmp_path / "LibriSpeech"
    root.mkdir()
    (root / "dev-clean.tar.gz.part").write_bytes(b"stale bytes of an older attempt")
    download_librispeech("dev-clean", root, url, sha256(data), progress=False)
    assert (root / "dev-clean/84/1000/84-1000-0001.flac").is_file()


def test_complete_partial_file_is_not_fetched_again(tmp_path, server, dev_clean):
    data, url = dev_clean
    root = tmp_path / "LibriSpeech"
    root.mkdir()
    (root / "dev-clean.tar.gz.part").write_bytes(data)  # died just before the rename
    md5 = "md5:" + hashlib.md5(data).hexdigest()
    assert download_librispeech("dev-clean", root, url, md5, keep_archive=True,
                                progress=False)["checksum"] == md5
    assert server.requests == [("/12/dev-clean.tar.gz", f"bytes={len(data)}-")]
    assert (root / "dev-clean.tar.gz").stat().st_size == len(data)  # kept


def test_checksum_mismatch_is_an_error_and_removes_the_file(tmp_path, server, dev_clean):
    data, url = dev_clean
    root = tmp_path / "LibriSpeech"
    wrong = "sha256:" + "0" * 64
    with pytest.raises(DownloadError, match=rf"dev-clean.tar.gz: sha256 mismatch \(expected "
                                            rf"0{{64}}, got {hashlib.sha256(data).hexdigest()}\)"):
        download_librispeech("dev-clean", root, url, wrong, progress=False)
    assert list(root.iterdir()) == []  # nothing extracted, nothing to resume from


@pytest.mark.parametrize("checksum", ["md5:123", "crc32:" + "0" * 8, "z" * 64])
def test_malformed_checksum_fails_before_downloading(tmp_path, server, dev_clean, checksum):
    with pytest.raises(DownloadError, match="expected 'md5:<32 hex>' or 'sha256:<64 hex>'"):
        download_librispeech("dev-clean", tmp_path, dev_clean[1], checksum, progress=False)
    assert server.requests == []


def test_bare_hex_checksums_by_length():
    assert parse_checksum("A" * 32) == ("md5", "a" * 32)
    assert parse_checksum("b" * 64) == ("sha256", "b" * 64)


def test_missing_archive_and_wrong_content_errors(tmp_path, server):
    with pytest.raises(DownloadError,
                       match=rf"{re.escape(server.url)}/12/dev-other.tar.gz: HTTP 404"):
        download_librispeech("dev-other", tmp_path, f"{server.url}/12/dev-other.tar.gz",
                             progress=False)
    other = archive(tmp_path, "test-clean")  # an archive of another subset
    server.files["/x.tar.gz"] = other
    with pytest.raises(DownloadError, match=r"dev-clean.tar.gz: no LibriSpeech/dev-clean/ folder"):
        download_librispeech("dev-clean", tmp_path / "r", f"{server.url}/x.tar.gz", sha256(other),
                             progress=False)


def test_stage_cli_records_the_download_and_fails_in_one_line(tmp_path, server, dev_clean):
    data, url = dev_clean
    out = tmp_path / "record.json"
    r = run_stage("download_librispeech", "--subset", "dev-clean", "--root", tmp_path / "LS",
                  "--url", url, "--checksum", sha256(data), "--out", out, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["checksum"] == sha256(data)
    r = run_stage("download_librispeech", "--subset", "dev-clean", "--root", tmp_path / "LS2",
                  "--url", url, "--checksum", "md5:" + "f" * 32, "--out", tmp_path / "x.json",
                  "--no-progress")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.startswith("download_librispeech: error: ") and "md5 mismatch" in r.stderr
    assert not (tmp_path / "x.json").exists()


def test_workflow_downloads_then_prepares(tmp_path, server):
    """`download: true`: one download job per subset, then prepare_corpus on the result."""
    checksums = {}
    for subset in SUBSETS:
        data = archive(tmp_path, subset)
        server.files[f"/mirror/{subset}.tar.gz"] = data
        checksums[subset] = sha256(data)
    work = copy_workflow(tmp_path / "wf")
    cfg = tmp_path / "dl.yaml"
    cfg.write_text(yaml.safe_dump({"corpora": {"read": {
        "source": "librispeech", "root": "raw/LibriSpeech", "download": True,
        "url": f"{server.url}/mirror/", "checksums": checksums,
        "subsets": {"train": "train-clean-100", "dev": "dev-clean", "test": "test-clean"}}}}))
    r = snakemake(work, "--cores", "1", "data/manifests/read/train.csv", "--configfile", str(cfg),
                  timeout=300)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    assert sorted(p for p, _ in server.requests) == sorted(f"/mirror/{s}.tar.gz" for s in SUBSETS)
    for subset in SUBSETS:
        rec = json.loads((work / f"data/downloads/read/{subset}.json").read_text())
        assert rec["checksum"] == checksums[subset]
        assert "download" in (work / f"logs/download_librispeech/read/{subset}.log").read_text()
    m = read_manifest(work / "data/manifests/read/test.csv")
    assert len(m) == 4 and m["path"].str.startswith("raw/LibriSpeech/test-clean/").all()
