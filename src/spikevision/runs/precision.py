"""Mixed precision: ``fp32`` (the default), ``bf16`` or ``fp16`` autocast for training and inference.

Under autocast the matrix products and convolutions run in the half dtype; the LIF layers then receive
half currents, integrate them in float32 and pass half spikes on (``neurons.base.HALF``), and the loss is taken in
float32. ``fp16`` training scales the loss (``torch.amp.GradScaler``) so that small gradients survive;
``bf16`` has float32's range and needs no scaling.
"""

from __future__ import annotations

import contextlib

import torch

PRECISIONS = ("fp32", "bf16", "fp16")
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(precision: str, device: torch.device):
    """The autocast context for ``precision`` on ``device`` (nothing for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=DTYPES[precision])


def grad_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler | None:
    """A loss scaler for fp16 training; None for the precisions that need none."""
    if precision != "fp16":
        return None
    return torch.amp.GradScaler(device.type)
