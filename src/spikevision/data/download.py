"""Downloading one large file (an event dataset's archive) so that a dropped connection costs nothing already
received: resumed with HTTP Range requests, verified by its digest, renamed into place only when whole and right.

The bytes received so far live in ``<target>.part`` beside the target, across attempts and across runs: an
attempt asks for ``Range: bytes=<size of .part>-``; a server that answers 206 appends to it, one that answers 200
(it ignores ranges) starts it over. A connection that drops is retried from where it stopped, up to ``attempts``
times a URL. When the file is whole its digest (SHA-256, or the MD5 the dataset's publishers and its peers give
where no SHA-256 is published) is checked: a wrong file is moved aside to ``<target>.corrupt`` and the next URL
is tried; a right one is renamed to ``target`` (atomic on one file system) and stamped, so later runs do not hash
it again.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from spikevision.errors import InvalidValue, NotFound

TIMEOUT_S = 10.0
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Remote:
    """A file to download: its name, its digest (``"sha256:<hex>"`` or ``"md5:<hex>"``), its size in bytes
    when known (0: unknown; a source sending more is cut off), and where it is served."""

    name: str
    digest: str
    urls: tuple[str, ...]
    size: int = 0

    def __post_init__(self) -> None:
        algorithm, _, value = self.digest.partition(":")
        if algorithm not in ("sha256", "md5") or not value:
            raise InvalidValue(f"{self.name}: digest must be 'sha256:<hex>' or 'md5:<hex>', got {self.digest!r}")


class DownloadFailed(NotFound):
    """No URL gave the file whole and right; the message names each URL and why."""


class _Dropped(Exception):
    """A transfer stopped early; what arrived is kept in the .part file. ``final``: asking this URL again will
    not help (a refusal, a source sending the wrong file)."""

    def __init__(self, message: str, *, final: bool = False):
        super().__init__(message)
        self.final = final


def download(remote: Remote, folder: Path, *, attempts: int = 3, progress: bool = False) -> Path:
    """``folder / remote.name``, verified: the copy there if its stamp (or its digest) says it is right, else
    downloaded from each URL in turn, resuming a partial download."""
    target = folder / remote.name
    if verified(target, remote):
        return target
    folder.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in remote.urls:
        try:
            _fetch(url, target, remote, attempts, progress)
        except _Dropped as exc:
            failures.append(f"{url} ({exc})")
            continue
        if _digest(_part(target), remote.digest) == remote.digest:
            os.replace(_part(target), target)
            _stamp(target, remote, url)
            return target
        corrupt = target.with_name(target.name + ".corrupt")
        os.replace(_part(target), corrupt)
        failures.append(f"{url} (the file's {remote.digest.partition(':')[0]} is wrong; moved aside to {corrupt})")
    raise DownloadFailed(f"could not download {remote.name}: tried {'; '.join(failures) or 'no URL'}")


def verified(path: Path, remote: Remote) -> bool:
    """Whether ``path`` is ``remote``'s file: its stamp matches its size and time, or its digest is right."""
    if not path.is_file():
        return False
    try:
        stamp = json.loads(path.with_name(path.name + ".verified").read_text())
        st = path.stat()
        if (isinstance(stamp, dict) and stamp.get("digest") == remote.digest and stamp.get("size") == st.st_size
                and stamp.get("mtime_ns") == st.st_mtime_ns):
            return True
    except (OSError, ValueError):
        pass
    if _digest(path, remote.digest) != remote.digest:
        return False
    _stamp(path, remote, "the data directory (put there by hand)")
    return True


def _fetch(url: str, target: Path, remote: Remote, attempts: int, progress: bool) -> None:
    """Bring ``<target>.part`` to the whole file from ``url``, resuming after each drop, ``attempts`` times."""
    why = "no attempt"
    for _ in range(attempts):
        try:
            _attempt(url, _part(target), remote, progress)
            return
        except _Dropped as exc:
            why = str(exc)
            if exc.final:
                break
    raise _Dropped(why)


def _attempt(url: str, part: Path, remote: Remote, progress: bool) -> None:
    """One request: the bytes from the end of ``part`` onwards, appended (or all of them, if the server ignores
    the range)."""
    have = part.stat().st_size if part.is_file() else 0
    if remote.size and have >= remote.size:
        return
    request = urllib.request.Request(url, headers={"User-Agent": "spikevision",
                                                   **({"Range": f"bytes={have}-"} if have else {})})
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing past what we have: the .part is whole
            return
        raise _Dropped(f"HTTP {exc.code}", final=True) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _Dropped(str(getattr(exc, "reason", exc))) from None
    with response:
        resumed = response.status == 206
        total = remote.size or (have if resumed else 0) + int(response.headers.get("Content-Length") or 0)
        with part.open("ab" if resumed else "wb") as out, tqdm(total=total or None, initial=have if resumed else 0,
                                                               unit="B", unit_scale=True, desc=remote.name,
                                                               disable=not progress, leave=False) as bar:
            try:
                _copy(response, out, bar, remote.size)
            except _Dropped as exc:
                if exc.final:  # the source sends another file: nothing of it is worth resuming
                    out.truncate(0)
                raise
    expected = int(response.headers.get("Content-Length") or -1)
    if expected >= 0 and part.stat().st_size != (have if resumed else 0) + expected:
        raise _Dropped(f"the connection dropped after {part.stat().st_size} bytes")


def _copy(response, out, bar, limit: int) -> None:
    """Append the response's bytes to ``out``, no further than ``limit`` bytes in all when it is known."""
    while True:
        try:
            chunk = response.read(_CHUNK)
        except (OSError, http.client.HTTPException) as exc:
            out.flush()
            raise _Dropped(f"the connection dropped after {out.tell()} bytes ({type(exc).__name__})") from None
        if not chunk:
            return
        if limit and out.tell() + len(chunk) > limit:
            raise _Dropped(f"the server sent more than the file's {limit} bytes", final=True)
        out.write(chunk)
        bar.update(len(chunk))


def _part(target: Path) -> Path:
    return target.with_name(target.name + ".part")


def _digest(path: Path, digest: str) -> str:
    algorithm = digest.partition(":")[0]
    hasher = hashlib.new(algorithm)
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK * 4):
            hasher.update(chunk)
    return f"{algorithm}:{hasher.hexdigest()}"


def _stamp(path: Path, remote: Remote, origin: str) -> None:
    """Record that ``path`` was verified (a read-only folder only means hashing it again next time)."""
    st = path.stat()
    record = {"digest": remote.digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "origin": origin}
    temporary = path.with_name(f".{path.name}.verified.{os.getpid()}")
    with contextlib.suppress(OSError):
        temporary.write_text(json.dumps(record) + "\n")
        os.replace(temporary, path.with_name(path.name + ".verified"))
