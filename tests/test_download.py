"""Resumable, verified downloads (data/download.py) against a real HTTP server on the loopback interface: a
whole file, a dropped connection resumed with a Range request, a server that ignores ranges, a wrong file moved
aside, a missing one, and a copy already in place."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from loopback_http import Server

from spikevision.data import download

BODY = np.random.default_rng(0).bytes(3_000_000)


def remote(server: Server, *, body: bytes = BODY, algorithm: str = "sha256", names=("archive.zip",)) -> download.Remote:
    digest = f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}"
    return download.Remote("archive.zip", digest, tuple(server.url(name) for name in names), size=len(body))


def test_a_file_is_downloaded_verified_and_stamped(tmp_path):
    with Server({"archive.zip": BODY}) as server:
        path = download.download(remote(server), tmp_path)
        assert path.read_bytes() == BODY and (tmp_path / "archive.zip.verified").is_file()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.zip", "archive.zip.verified"]
        download.download(remote(server), tmp_path)  # verified already: no request
        assert len(server.requests) == 1


def test_a_dropped_connection_resumes_where_it_stopped(tmp_path):
    with Server({"archive.zip": BODY}) as server:
        server.drop_after["archive.zip"] = 1_000_000
        path = download.download(remote(server, algorithm="md5"), tmp_path)
        assert path.read_bytes() == BODY
        assert server.requests == [("archive.zip", None), ("archive.zip", "bytes=1000000-")]


def test_a_part_left_by_an_earlier_run_is_resumed(tmp_path):
    (tmp_path / "archive.zip.part").write_bytes(BODY[:1_234_567])
    with Server({"archive.zip": BODY}) as server:
        assert download.download(remote(server), tmp_path).read_bytes() == BODY
        assert server.requests == [("archive.zip", "bytes=1234567-")]


def test_a_server_that_ignores_ranges_sends_it_all_again(tmp_path):
    (tmp_path / "archive.zip.part").write_bytes(b"x" * 1000)
    with Server({"archive.zip": BODY}) as server:
        server.ranges = False
        assert download.download(remote(server), tmp_path).read_bytes() == BODY


def test_a_wrong_file_is_moved_aside_and_the_next_url_tried(tmp_path):
    wrong = bytearray(BODY)
    wrong[5] ^= 1
    with Server({"bad.zip": bytes(wrong), "archive.zip": BODY}) as server:
        path = download.download(remote(server, names=("bad.zip", "archive.zip")), tmp_path)
        assert path.read_bytes() == BODY
        assert (tmp_path / "archive.zip.corrupt").read_bytes() == bytes(wrong)
        (tmp_path / "archive.zip").unlink()
        (tmp_path / "archive.zip.verified").unlink()
        with pytest.raises(download.DownloadFailed, match=r"bad.zip \(the file's sha256 is wrong; moved aside"):
            download.download(remote(server, names=("bad.zip",)), tmp_path)
        assert not (tmp_path / "archive.zip").exists() and not (tmp_path / "archive.zip.part").exists()


def test_every_url_failing_names_each_and_why(tmp_path):
    with Server({}) as server:
        with pytest.raises(download.DownloadFailed, match=r"missing.zip \(HTTP 404\)"):
            download.download(remote(server, names=("missing.zip",)), tmp_path)
    with pytest.raises(download.DownloadFailed, match=r"http://127.0.0.1:9/archive.zip \("):
        download.download(download.Remote("archive.zip", "md5:00", ("http://127.0.0.1:9/archive.zip",)), tmp_path)


def test_a_copy_put_in_place_by_hand_is_verified_not_downloaded(tmp_path):
    (tmp_path / "archive.zip").write_bytes(BODY)
    with Server({}) as server:
        assert download.download(remote(server), tmp_path).read_bytes() == BODY
        assert server.requests == []


def test_a_source_sending_more_than_the_file_is_cut_off(tmp_path):
    with Server({"archive.zip": BODY + b"more"}) as server:
        with pytest.raises(download.DownloadFailed, match="more than the file's 3000000 bytes"):
            download.download(remote(server), tmp_path)


def test_a_bad_digest_spelling_is_refused():
    with pytest.raises(ValueError, match="digest must be 'sha256:<hex>' or 'md5:<hex>'"):
        download.Remote("a.zip", "crc32:1234", ())
