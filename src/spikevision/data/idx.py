"""The IDX reader (MNIST's file format), raw or gzip-compressed, bounded: it never allocates what a lying
header asks for, only what the file holds."""

from __future__ import annotations

import gzip
import math
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from spikevision.errors import InvalidValue

MAX_GZ_IDX_BYTES = 1 << 30  # decompressed bytes read from one .gz before giving up (bomb guard)
_CHUNK = 1 << 20


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
