"""Checkpoints: one safetensors file (weights, optimiser, schedule, progress), written atomically.

Nothing here is ever unpickled: tensors go through safetensors, everything else through JSON stored in the
file's metadata. A checkpoint is written to a temporary file in the same directory, flushed to disk and
renamed over the old one, so a crash at any moment leaves either the old or the new checkpoint, never half.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from spikevision.errors import InvalidValue, NotFound

CHECKPOINT_NAME = "checkpoint.safetensors"
FORMAT = "spikevision-checkpoint-1"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, make_folder: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path`` for a writer to fill (a figure's, a movie's, bytes): synced and renamed
    onto ``path`` only when the block ends without an error, else removed. Readers see the old file or the
    whole new one, never a part; a failure leaves no debris. The one atomic writer of the package (the data
    files, a layer below, are installed by ``data.fetching``, which hashes them as they stream in).

    The temporary name is ``.NAME.XXXX.tmp.SUFFIX``: fresh, created by the writer itself (so with the usual
    permissions), its suffix last (image writers go by it). An error after the writer made it says that the
    previous file is unchanged; one before (no such folder, a file in the way) is the place's, as it came.
    """
    path = Path(path)
    if make_folder:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp{path.suffix}")
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        if not tmp.exists():
            raise
        raise OSError(f"could not write {path}: {exc.strerror or exc}; the previous file is unchanged") from None
    finally:
        with contextlib.suppress(OSError):  # cleaning up must not hide what went wrong (a file where a folder is)
            tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def write_atomic(path: str | os.PathLike, payload: bytes) -> None:
    """Write ``payload`` to ``path`` through :func:`atomic_path`: the old file or the whole new one, never a part."""
    path = Path(path)
    with atomic_path(path) as tmp:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask gives the usual permissions
        except OSError as exc:  # the place itself: named, so that the command line can say what to do
            raise OSError(exc.errno, exc.strerror, str(path.parent)) from None
        with os.fdopen(fd, "wb") as file:
            file.write(payload)


def stale_temporaries(path: Path) -> list[Path]:
    """The temporary files that atomic writes of ``path`` left behind when a crash cut them short.

    :func:`atomic_path` names them ``.NAME.XXXX.tmp.SUFFIX``; versions before 2026-12-07 wrote bytes through
    ``.NAME.XXXX.tmp`` (found too, so that their runs are cleaned as well).
    """
    path = Path(path)
    return sorted({*path.parent.glob(f".{path.name}.*.tmp"), *path.parent.glob(f".{path.name}.*.tmp{path.suffix}")})


def _fsync_file(path: Path) -> None:
    with path.open("rb+") as file:
        os.fsync(file.fileno())


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    scheduler: Any | None,
    progress: dict,
) -> None:
    """Save weights, optimiser and schedule state and a JSON-able ``progress`` dict atomically."""
    tensors: dict[str, torch.Tensor] = {}
    for name, value in model.state_dict().items():
        tensors[f"model.{name}"] = value.detach().cpu().contiguous().clone()
    meta: dict[str, Any] = {"format": FORMAT, "progress": progress}
    if optimizer is not None:
        state = optimizer.state_dict()
        optim_meta: dict[str, Any] = {"param_groups": state["param_groups"], "state": {}}
        for idx, entry in state["state"].items():
            plain = {}
            for key, value in entry.items():
                if torch.is_tensor(value):
                    tensors[f"optim.{idx}.{key}"] = value.detach().cpu().contiguous().clone()
                else:
                    plain[key] = value
            optim_meta["state"][str(idx)] = plain
        meta["optimizer"] = optim_meta
    if scheduler is not None:
        meta["scheduler"] = scheduler.state_dict()
    payload = st_save(tensors, metadata={"spikevision": json.dumps(meta)})
    write_atomic(Path(path), payload)


def read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a checkpoint file -> (tensors, metadata). Raises ValueError for anything that is not one."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"no checkpoint at {path}; train first (spikevision train --preset NAME --out DIR)")
    data = path.read_bytes()
    try:
        tensors = st_load(data)
    except SafetensorError as exc:
        raise _unreadable(path, exc) from None
    return tensors, _metadata(path, data[:8], data[8:])


def read_metadata(path: Path) -> dict:
    """The checkpoint's metadata alone (progress, optimiser and schedule state), without reading its tensors."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"no checkpoint at {path}; train first (spikevision train --preset NAME --out DIR)")
    with open(path, "rb") as handle:
        size = handle.read(8)
        length = int.from_bytes(size, "little")
        if length > path.stat().st_size:  # a damaged header never makes us read past the file
            raise _unreadable(path, f"header length {length} beyond the file")
        return _metadata(path, size, handle.read(length))


def _metadata(path: Path, size: bytes, rest: bytes) -> dict:
    """Our JSON metadata out of a safetensors header (``size``: its 8-byte length, ``rest``: what follows)."""
    try:
        header = json.loads(rest[: int.from_bytes(size, "little")])
        meta = json.loads(header["__metadata__"]["spikevision"])
    except (ValueError, KeyError, TypeError) as exc:
        raise _unreadable(path, exc) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise InvalidValue(f"{path} has format {meta.get('format') if isinstance(meta, dict) else None!r}, "
                           f"expected {FORMAT!r}")
    return meta


def _unreadable(path: Path, why) -> InvalidValue:
    return InvalidValue(f"{path} is not a readable spikevision checkpoint ({why}); it may be truncated: delete it "
                        f"and train again (spikevision train --out {path.parent})")


def load_model_weights(model: torch.nn.Module, tensors: dict[str, torch.Tensor], source: Path) -> None:
    """Copy the ``model.*`` tensors into ``model``; a different architecture is a clear error."""
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or extra or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing[:4]}")
        if extra:
            parts.append(f"unexpected {extra[:4]}")
        if wrong:
            parts.append("shape mismatch " + ", ".join(f"{k}: {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
                                                       for k in wrong[:4]))
        raise InvalidValue(f"checkpoint {source} is for a different architecture: " + "; ".join(parts))
    model.load_state_dict(state)


def load_optimizer_state(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    optim_meta = meta.get("optimizer")
    if optim_meta is None:
        return
    state: dict[int, dict] = {}
    for idx, plain in optim_meta["state"].items():
        state[int(idx)] = dict(plain)
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": optim_meta["param_groups"]})
