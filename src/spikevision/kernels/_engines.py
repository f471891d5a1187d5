"""Which fused engine runs a tensor, said once for every neuron model's kernels (``cuba``, ``alif``)."""

from __future__ import annotations

import torch

from spikevision.errors import InvalidValue
from spikevision.kernels import cpu, gpu


def fastest(current: torch.Tensor) -> str:
    """The engine for ``current``'s device: "numba" (CPU), "triton" (CUDA with Triton) or "reference"."""
    if current.device.type == "cpu":
        return "numba" if cpu.available() else "reference"
    if current.device.type == "cuda" and gpu.available():
        return "triton"
    return "reference"


def check_runs_here(engine: str, model: str, current: torch.Tensor) -> None:
    """A one-line refusal of an explicit ``engine`` that cannot run ``current`` here (device, or not installed)."""
    devices, ready = (("cpu",), cpu.available()) if engine == "numba" else (gpu.devices(), gpu.available())
    if current.device.type not in devices:
        raise InvalidValue(f"the {engine!r} {model} backend runs on {' or '.join(devices)} tensors, got "
                           f"{current.device.type}; use backend='auto'")
    if not ready:
        needs = "numba" if engine == "numba" else "triton and a GPU"
        raise InvalidValue(f"the {engine!r} {model} backend needs {needs} here; use backend='auto'")
