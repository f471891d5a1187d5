"""Where a network runs: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, chosen once at the edge and passed down.

``check_name`` checks only the spelling (a config saved on a GPU machine must still load on a laptop);
``resolve`` turns a name into a ``torch.device`` that exists here, or says in one line what to use instead.
``auto`` takes the first CUDA device when there is one, else the CPU.

Example::

    >>> resolve("auto")            # device(type='cpu') on a machine without a GPU
    >>> describe(resolve("cpu"))   # e.g. 'CPU (2 threads)'
"""

from __future__ import annotations

import os
import re

import torch

from spikevision.errors import InvalidValue

NAMES = "auto, cpu, cuda or cuda:N"
_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")


def check_name(name) -> str:
    """``name`` if it is a device name this project knows; ValueError naming the valid ones otherwise."""
    if not isinstance(name, str) or not _PATTERN.fullmatch(name):
        raise InvalidValue(f"device must be {NAMES}; got {name!r}")
    return name


def resolve(name: str | torch.device = "auto") -> torch.device:
    """The ``torch.device`` for ``name`` on this machine.

    Raises:
        ValueError: an unknown name, CUDA asked for where there is none, or a GPU index out of range.
    """
    if isinstance(name, torch.device):
        name = str(name)
    check_name(name)
    cuda = torch.cuda.is_available()
    if name == "auto":
        return torch.device("cuda", 0) if cuda else torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if not cuda:
        raise InvalidValue(f"device {name!r}: no CUDA device is available here (torch {torch.__version__}, "
                           f"CUDA build: {torch.version.cuda or 'no'}); use --device cpu or auto")
    device = torch.device(name if ":" in name else "cuda:0")
    count = torch.cuda.device_count()
    if device.index >= count:
        raise InvalidValue(f"device {name!r}: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}")
    return device


def make_reproducible(device: torch.device) -> None:
    """On a GPU, cuDNN's deterministic algorithms and no autotuning (which may pick another algorithm in
    another process): the same seed then gives the same run on the same device. Nothing to do on the CPU."""
    if device.type == "cuda":
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def describe(device: torch.device) -> str:
    """A person's name for ``device``: the GPU's model, or the CPU with torch's thread count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{_cpu_model() or 'CPU'} ({torch.get_num_threads()} threads)"


def record(device: torch.device) -> dict:
    """What a run's summary says of where it ran: ``{"device": "cuda:0", "device_name": "NVIDIA H200"}``."""
    return {"device": str(device), "device_name": describe(device)}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or os.uname().machine
