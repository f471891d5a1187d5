"""Multi-process training on PyTorch's own engine: torchrun's environment -> a process group, batch shards, sums.

``torchrun --nproc_per_node=N -m spikevision train ...`` starts N copies of the program with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` set. ``setup()`` reads them and joins the
process group; without them it returns the single-process context on the asked-for device and joins nothing.

Placement (``placement``): NCCL only where each process of a node has a GPU of its own (``cuda:LOCAL_RANK``);
processes that would share a GPU use gloo, and ``--device auto`` then trains on the CPU. ``--dist-backend``
overrides the choice, and a combination that cannot work (NCCL on the CPU, NCCL with a shared GPU) is
refused in one line before any process group is joined.

Sharding keeps the arithmetic of the single-process run: every process draws the same global batch of a
step (``train.epoch_order`` and ``train.step_generator`` depend on the seed and step only) and keeps every
``world_size``-th sample from its rank on, as ``DistributedSampler`` interleaves an epoch. Each process's
mean loss is weighted by ``world_size * n_local / n_global`` so that DDP's gradient average over processes
is the gradient of the mean over the global batch.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from spikevision.errors import InvalidValue
from spikevision.runs import devices

# The variables torchrun (torch.distributed.run) sets in every process it starts.
ENV_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
BACKENDS = ("auto", "gloo", "nccl")


@dataclass(frozen=True)
class Context:
    """Where this process stands: its rank among ``world_size`` processes and the device it computes on.

    The default is the single-process run (rank 0 of 1 on the CPU, no process group).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    backend: str = ""  # "gloo" or "nccl" once a process group is joined; "" for a single process

    @property
    def distributed(self) -> bool:
        """Whether this process is one of a process group (even a group of one)."""
        return bool(self.backend)

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and reports progress."""
        return self.rank == 0

    def shard(self, n: int) -> slice:
        """This process's samples of a global batch of ``n``: every ``world_size``-th from ``rank`` on."""
        return slice(self.rank, n, self.world_size)

    def shard_size(self, n: int) -> int:
        return len(range(self.rank, n, self.world_size))


def launched() -> bool:
    """Whether this process was started by torchrun (its environment variables are all set)."""
    return all(key in os.environ for key in ENV_KEYS)


def is_main_process() -> bool:
    """Whether this process is rank 0 of a torchrun group, or a single process: the one that writes and prints."""
    return not launched() or _env_int("RANK") == 0


def setup(device: str = "auto", backend: str = "auto") -> Context:
    """Join the process group torchrun describes (once per process) and return this process's Context.

    Args:
        device: a ``devices`` name; under torchrun "cuda" means this process's own GPU (see ``placement``).
        backend: "auto", "gloo" or "nccl" (used under torchrun only).
    Returns the single-process ``Context`` on ``device`` when the process was not started by torchrun.
    """
    if backend not in BACKENDS:
        raise InvalidValue(f"--dist-backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if not launched():
        return Context(device=devices.resolve(device))
    rank, world_size, local_rank = (_env_int(key) for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    if not 0 <= rank < world_size:
        raise InvalidValue(f"RANK={rank} is not in [0, WORLD_SIZE={world_size}); start the processes with torchrun")
    local_size = _env_int("LOCAL_WORLD_SIZE") if "LOCAL_WORLD_SIZE" in os.environ else world_size
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    device, backend = placement(device, backend, local_rank, local_size, gpus)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend, rank=rank, world_size=world_size)
    return Context(rank, world_size, local_rank, device, dist.get_backend())


def placement(device: str, backend: str, local_rank: int, local_size: int, gpus: int) -> tuple[torch.device, str]:
    """The device and backend of process ``local_rank`` of ``local_size`` on a node with ``gpus`` GPUs.

    Each process takes ``cuda:LOCAL_RANK`` when there are enough GPUs; otherwise "auto" stays on the CPU,
    and "cuda" shares the GPUs (gloo only: NCCL cannot put two ranks on one GPU).
    """
    devices.check_name(device)
    if device.startswith("cuda:"):
        raise InvalidValue(f"--device {device}: under torchrun each process takes its own GPU, cuda:LOCAL_RANK; "
                           "use --device cuda")
    own_gpu = gpus >= local_size
    if device == "cpu" or (device == "auto" and not own_gpu):
        if backend == "nccl":
            raise InvalidValue("--dist-backend nccl needs one GPU per process: "
                               f"{local_size} processes on this node, {gpus} GPU(s); use --dist-backend gloo")
        return torch.device("cpu"), "gloo"
    if gpus == 0:
        raise InvalidValue("--device cuda: no CUDA device is available here; use --device cpu or auto")
    if not own_gpu and backend == "nccl":
        raise InvalidValue(f"--dist-backend nccl needs one GPU per process: {local_size} processes on this node, "
                           f"{gpus} GPU(s); give torchrun --nproc_per_node at most {gpus}, or use --dist-backend gloo")
    if backend == "auto":
        backend = "nccl" if own_gpu else "gloo"
    return torch.device("cuda", local_rank % gpus), backend


def teardown(ctx: Context, *, finished: bool = True) -> None:
    """Leave the process group ``setup`` joined (nothing for a single process).

    After a finished run every process first waits for the others (no collective is still in flight), and the
    DDP wrapper's objects, kept alive by reference cycles, are freed while the interpreter is whole: Gloo's
    threads holding them at interpreter shutdown abort the process ("terminate called without an active
    exception"), which a two-process test caught about once in a dozen runs on a loaded machine. After a
    failure or Ctrl-C there is no barrier: the other process may never reach it.
    """
    if ctx.distributed and dist.is_initialized():
        if finished:
            dist.barrier()
        gc.collect()
        dist.destroy_process_group()


def wrap(model: nn.Module, ctx: Context) -> nn.Module:
    """``model`` as DistributedDataParallel in a process group (gradients averaged over processes), else itself."""
    if not ctx.distributed:
        return model
    device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def sum_over_processes(values: torch.Tensor, ctx: Context) -> torch.Tensor:
    """The element-wise sum of ``values`` over all processes (float64, on the CPU); ``values`` itself alone."""
    if not ctx.distributed:
        return values
    total = values.detach().to(device=ctx.device, dtype=torch.float64)
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total.cpu()


def broadcast_buffers(model: nn.Module, ctx: Context) -> None:
    """Give every process rank 0's buffers (batch-norm running statistics: each rank updated its own)."""
    if not ctx.distributed:
        return
    for buffer in model.buffers():
        dist.broadcast(buffer, src=0)


def _env_int(key: str) -> int:
    raw = os.environ[key]
    try:
        return int(raw)
    except ValueError:
        raise InvalidValue(f"{key}={raw!r} is not a whole number; start the processes with torchrun") from None
