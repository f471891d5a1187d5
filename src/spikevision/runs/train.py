"""Training and evaluation: surrogate gradients through time, resumable runs, full-test-set accuracy.

A run directory holds ``config.json`` (the resolved config), ``checkpoint.safetensors`` (weights,
optimiser, schedule and progress, written atomically every epoch and on interruption),
``metrics.jsonl`` (one line per step and per epoch) and ``summary.json``.

Every random draw of step ``s`` comes from a generator seeded by (seed, s) and every epoch's order from
(seed, epoch), so a resumed run replays exactly what the uninterrupted run would have done.

Started by torchrun, ``fit`` trains with DistributedDataParallel (``spikevision.runs.distributed``): each
process draws the same global batch and keeps its shard, gradients are averaged over the processes, the
test set is split between them and the sums combined, and only rank 0 writes files or reports progress.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from spikevision import metrics
from spikevision.errors import InvalidValue, TrainingDiverged
from spikevision.kernels.numba import cache, warm
from spikevision.kernels.numba import runtime as cpu
from spikevision.kernels.triton import runtime as gpu
from spikevision.model import build_model
from spikevision.runs import devices, distributed, precision, rundir
from spikevision.runs.checkpoint import (
    load_model_weights,
    load_optimizer_state,
    read_checkpoint,
    read_metadata,
    save_checkpoint,
)
from spikevision.runs.config import RunConfig, TrainConfig
from spikevision.runs.evaluation import evaluate
from spikevision.runs.inputs import (
    TensorData,
    augment,
    epoch_order,
    load_data,
    model_input,
    step_generator,
    training_images,
)
from spikevision.runs.losses import loss_fn
from spikevision.runs.progress import ProgressPrinter
from spikevision.runs.rundir import load_config as load_run_config

EventHandler = Callable[[str, dict], None]


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training; a checkpoint of the last finished step was saved."""

    def __init__(self, run_dir: Path, step: int):
        super().__init__(f"interrupted at step {step}; checkpoint saved in {run_dir}")
        self.run_dir = run_dir
        self.step = step


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    _settle_vector_math()
    kind = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
    return kind(model.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)


def _settle_vector_math() -> None:
    """Make the process's first CPU ``torch.sqrt`` calls here, where their results are thrown away.

    Adam's step takes ``sqrt`` of its second moments, which ATen hands to MKL's vector math in chunks, one
    per thread, for tensors over 2,048 elements. The first such call that the threads make at the same time
    rounds part of its result differently now and then (3 processes in 96 of the tests' tiny run; never a
    later call), which moved a first layer's weights a few float32 steps (docs/RELIABILITY.md). After a first
    call on the calling thread alone and one on all threads at once, it did not happen.
    """
    for size in (64, 1 << 16):
        torch.ones(size).sqrt()


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int):
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total_steps,
                                                   pct_start=0.15)
    return None


def fit(
    config: RunConfig,
    run_dir: Path,
    *,
    data_root: Path | None = None,
    resume: bool = False,
    on_event: EventHandler | None = None,
    device: str | None = None,
    dist_backend: str = "auto",
    progress: bool = True,
) -> dict:
    """Train ``config`` into ``run_dir`` and return the summary (also written to ``summary.json``): what
    ``spikevision train`` does before it draws the training curves (``pictures.figures.training_curves``).

    Args:
        config: the resolved run config (ignored on resume: the run's own ``config.json`` is used).
        run_dir: the run directory; created if missing.
        data_root: where the datasets are cached (``data.fetch`` decides when None).
        resume: continue the run in ``run_dir`` from its checkpoint (from the start, with its saved
            config, when it was stopped before the first checkpoint).
        on_event: called as ``on_event(kind, info)`` with kind "start", "compile" (numba compiles its loops
            first; or, with ``engine`` "triton", a first GPU step still running after a few seconds, which is
            Triton compiling), "step", "epoch", "end" (on rank 0 only when started by torchrun).
        device: where to train ("auto", "cpu", "cuda", "cuda:N"); None takes the config's ``train.device``.
            A resumed run may continue on another device than it started on.
        dist_backend: under torchrun, "auto", "gloo" or "nccl" (``distributed.placement``).
        progress: without ``on_event``, show a progress bar and one line per epoch on stderr, as the command
            line does (False: silent).
    """
    run_dir = Path(run_dir)
    ckpt_path = run_dir / rundir.CHECKPOINT
    if run_dir.exists() and not run_dir.is_dir():
        raise InvalidValue(f"the run directory {run_dir} is a file; choose another --out")
    if resume:
        config = load_run_config(run_dir)
    elif ckpt_path.exists():
        raise InvalidValue(f"{run_dir} already holds a run; continue it with resume=True (--resume on the command "
                           "line) or choose another directory (--out)")
    ctx = distributed.setup(device or config.train.device, dist_backend)
    printer = ProgressPrinter() if on_event is None and progress else None
    finished = False
    try:
        summary = _fit(config, run_dir, data_root, resume, on_event or printer, ctx)
        finished = True
        return summary
    finally:
        if printer is not None:
            printer.close()
        distributed.teardown(ctx, finished=finished)


@dataclass
class Progress:
    """How far a run is: saved in every checkpoint (as JSON) and read back on resume.

    ``history`` holds the ``metrics.jsonl`` records so far, ``last_eval`` the last epoch's evaluation (None
    before the first), ``scaler`` fp16's loss-scale state (None otherwise).
    """

    step: int = 0
    epochs_done: int = 0
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    history: list = field(default_factory=list)
    last_eval: dict | None = None
    scaler: dict | None = None

    KEYS = ("step", "epochs_done", "train_seconds", "eval_seconds", "history", "last_eval", "scaler")

    def to_dict(self) -> dict:
        """The checkpoint's ``progress`` record (absent fields left out, as the readers expect)."""
        return {key: getattr(self, key) for key in self.KEYS if getattr(self, key) is not None}

    @classmethod
    def from_checkpoint(cls, meta: dict, path: Path, cfg: TrainConfig, steps_per_epoch: int) -> Progress:
        """The checkpoint's progress record, checked against the run's config before training relies on it."""
        progress = _checked_progress(meta, path, cfg, steps_per_epoch)
        return cls(**{key: progress.get(key) for key in cls.KEYS if key in progress})


def _fit(config: RunConfig, run_dir: Path, data_root: Path | None, resume: bool,
         on_event: EventHandler | None, ctx: distributed.Context) -> dict:
    emit = on_event if on_event and ctx.is_main else (lambda kind, info: None)
    run = _Run(config, run_dir, ctx, emit)
    run.setup(data_root, resume)
    run.train()
    return run.save_summary()


class _Run:
    """One training run, as ``fit`` drives it: set up, train epoch after epoch, save.

    Only rank 0 of a process group writes (``ctx.is_main``); every process computes.
    """

    def __init__(self, config: RunConfig, run_dir: Path, ctx: distributed.Context, emit: EventHandler):
        self.config, self.cfg, self.run_dir, self.ctx, self.emit = config, config.train, run_dir, ctx, emit
        self.ckpt_path = run_dir / rundir.CHECKPOINT
        self.progress = Progress()
        self.metrics_file = None
        self.stepped = False  # whether this process has begun a training step (the compile notice's cue)

    # ------------------------------------------------------------------ setup

    def setup(self, data_root: Path | None, resume: bool) -> None:
        """Data, model, optimiser and (on resume) the checkpoint; then the run directory, touched last. The
        kernels a fresh install lacks compile meanwhile."""
        cfg = self.cfg
        self.compiling = self._start_compiling()
        self._load_data(data_root)  # everything that can be refused is checked before the directory is touched
        torch.manual_seed(cfg.seed)
        devices.make_reproducible(self.ctx.device)
        self.model = build_model(self.config.model).to(self.ctx.device)
        self.optimizer = make_optimizer(self.model, cfg)
        self.scheduler = make_scheduler(self.optimizer, cfg, self.steps_per_epoch * cfg.epochs)
        self.scaler = precision.grad_scaler(cfg.precision, self.ctx.device)
        # A run killed before its first checkpoint resumes from the start: the same seed replays it exactly.
        if resume and self.ckpt_path.is_file():
            self._restore()
        if self.ctx.is_main:  # the other processes of a group never write
            self._prepare_directory(resume)
        self.net = distributed.wrap(self.model, self.ctx)  # DDP in a group: rank 0's weights, averaged gradients

    def _load_data(self, data_root: Path | None) -> None:
        cfg, device = self.cfg, self.ctx.device
        self.train_data = load_data(cfg, "train", data_root, cfg.train_subset).to(device)
        self.test_data = load_data(cfg, "test", data_root, cfg.test_subset).to(device)
        n = len(self.train_data.labels)
        self.steps_per_epoch = n // cfg.batch_size if cfg.drop_last else math.ceil(n / cfg.batch_size)
        if self.steps_per_epoch == 0:
            raise InvalidValue(f"train.batch_size {cfg.batch_size} is larger than the {n} training images")
        smallest = cfg.batch_size if cfg.drop_last or n % cfg.batch_size == 0 else n % cfg.batch_size
        if smallest < self.ctx.world_size:
            raise InvalidValue(f"a batch of {smallest} images cannot be shared by {self.ctx.world_size} processes; "
                               "use a larger train.batch_size (or train.drop_last = true) or fewer processes")

    def _restore(self) -> None:
        tensors, meta = read_checkpoint(self.ckpt_path)
        load_model_weights(self.model, tensors, self.ckpt_path)
        self.progress = Progress.from_checkpoint(meta, self.ckpt_path, self.cfg, self.steps_per_epoch)
        try:
            load_optimizer_state(self.optimizer, tensors, meta)
            if self.scheduler is not None:
                _load_scheduler(self.scheduler, meta)
            if self.scaler is not None and self.progress.scaler is not None:
                self.scaler.load_state_dict(self.progress.scaler)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise InvalidValue(f"{self.ckpt_path}: optimiser or schedule state does not fit "
                               f"{self.run_dir / rundir.CONFIG} ({exc!r}); was the config edited?") from None

    def _prepare_directory(self, resume: bool) -> None:
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OSError(f"cannot create the run directory {self.run_dir}: {exc.strerror or exc}; "
                          "choose another --out") from None
        if resume:
            rundir.remove_stale_temporaries(self.run_dir)
            if self.progress.epochs_done < self.cfg.epochs:  # the weights will change: what was made of them goes
                rundir.remove_derived(self.run_dir)
        else:
            self.config.save(self.run_dir / rundir.CONFIG)
        rundir.rewrite_metrics(self.run_dir, self.progress.history)

    # ------------------------------------------------------------------ train

    def train(self) -> None:
        """Every epoch left: its steps, then the evaluation on the whole test set and a checkpoint."""
        self.emit("start", {"total_steps": self.steps_per_epoch * self.cfg.epochs,
                            "steps_per_epoch": self.steps_per_epoch, "step": self.progress.step,
                            "run_dir": str(self.run_dir)})
        self._wait_for_kernels()
        metrics_file = open(self.run_dir / rundir.METRICS, "a", encoding="utf-8") if self.ctx.is_main else None
        with metrics_file or contextlib.nullcontext(), _deferred_interrupt() as interrupted, \
                _diverged_message(self.ckpt_path, self.cfg):
            self.metrics_file = metrics_file
            while self.progress.epochs_done < self.cfg.epochs:
                self._train_epoch(interrupted)
                self._evaluate_epoch()
                if interrupted.is_set():
                    raise TrainingInterrupted(self.run_dir, self.progress.step)

    def _start_compiling(self) -> warm.Compiling | None:
        """Start compiling the CPU kernels the run's network uses that no earlier run has (a fresh install):
        their serial builds, each family in a process of its own, side by side on the cores this run uses
        (``kernels.numba.warm``). In a group of processes each compiles what it runs itself, since they share the
        cores already."""
        if self.ctx.device.type != "cpu" or self.ctx.distributed or not cpu.available():
            return None  # without numba the reference loops run: nothing to compile
        families = cache.missing(_kernel_families(self.config.model, self.cfg.encoding))
        return warm.Compiling(families, torch.get_num_threads()) if families else None

    def _wait_for_kernels(self) -> None:
        """Say which kernels compile and wait for them; the wait counts as training time, as it did when the
        first step compiled."""
        if self.compiling is None:
            return
        self.emit("compile", {"families": self.compiling.families})
        tick = time.perf_counter()
        self.compiling.wait()  # a failed worker costs nothing: the first step compiles what is missing
        self.progress.train_seconds += time.perf_counter() - tick
        self.compiling = None

    def _compile_notice(self):
        """Around this process's first step on a GPU whose kernels are Triton's: if it is still running after
        ``TRITON_NOTICE_SECONDS``, say that Triton compiles (there is nothing to start ahead, as numba's
        workers do: Triton compiles on a kernel's first launch, and caches what it built on disk)."""
        first, self.stepped = not self.stepped, True
        if not first or not _triton_runs_on(self.ctx.device):
            return contextlib.nullcontext()
        return _said_if_slow(TRITON_NOTICE_SECONDS, lambda: self.emit("compile", {"engine": "triton"}))

    def _train_epoch(self, interrupted: threading.Event) -> None:
        cfg, progress = self.cfg, self.progress
        epoch = progress.epochs_done
        first = progress.step - epoch * self.steps_per_epoch  # > 0 when resuming mid-epoch
        order = epoch_order(cfg.seed, epoch, len(self.train_data.labels))
        self.model.train()
        for index in range(first, self.steps_per_epoch):
            step = progress.step
            batch = order[index * cfg.batch_size : (index + 1) * cfg.batch_size]
            tick = time.perf_counter()
            with self._compile_notice():
                record, stop = _train_step(self.net, (self.optimizer, self.scheduler, self.scaler),
                                           self.train_data, batch, cfg, step, self.ctx, interrupted.is_set())
            progress.train_seconds += time.perf_counter() - tick
            progress.step = step + 1
            self._log({**record, "kind": "step", "epoch": epoch, "step": step + 1})
            # In a group, stop on the flag the processes shared inside the step: all at the same step.
            if stop if self.ctx.distributed else interrupted.is_set():
                self.save_checkpoint()
                raise TrainingInterrupted(self.run_dir, progress.step)
            if cfg.checkpoint_every and progress.step % cfg.checkpoint_every == 0:
                self.save_checkpoint()

    def _evaluate_epoch(self) -> None:
        progress = self.progress
        tick = time.perf_counter()
        distributed.broadcast_buffers(self.model, self.ctx)  # evaluate with the running statistics rank 0 saves
        result = evaluate(self.model, self.test_data, self.cfg, seed=self.cfg.seed, ctx=self.ctx)
        progress.eval_seconds += time.perf_counter() - tick
        progress.last_eval = result
        progress.epochs_done += 1
        record = {"kind": "epoch", "epoch": progress.epochs_done, "step": progress.step,
                  "test_accuracy": result["accuracy"], "test_loss": result["loss"],
                  "train_seconds": progress.train_seconds}
        self._log(record, emit=False)
        self.save_checkpoint()
        self.emit("epoch", record)

    def _log(self, record: dict, emit: bool = True) -> None:
        """Keep ``record`` in the history and append it to ``metrics.jsonl`` (rank 0); tell the listener."""
        self.progress.history.append(record)
        handle = self.metrics_file
        if handle is not None:  # None in a process other than rank 0
            try:
                handle.write(json.dumps(record) + "\n")
                handle.flush()
            except OSError as exc:
                raise OSError(f"could not write {handle.name}: {exc.strerror or exc}; "
                              "the last checkpoint is kept, resume with --resume once there is room") from None
        if emit:
            self.emit(record["kind"], record)

    # ------------------------------------------------------------------ save

    def save_checkpoint(self) -> None:
        _check_finite(self.model, self.progress.step)  # never save non-finite weights as the last good ones
        if self.scaler is not None:
            self.progress.scaler = self.scaler.state_dict()  # fp16's loss scale: numbers only, saved as JSON
        if self.ctx.is_main:
            save_checkpoint(self.ckpt_path, self.model, self.optimizer, self.scheduler, self.progress.to_dict())

    def save_summary(self) -> dict:
        """``summary.json`` (rank 0); the summary for every process. The pictures are the caller's to draw
        (``pictures.figures.training_curves``): nothing below the commands draws."""
        summary = _summary(self.config, self.progress, self.model)
        summary.update(processes=self.ctx.world_size, precision=self.cfg.precision, **devices.record(self.ctx.device))
        if self.ctx.is_main:
            rundir.write_json(self.run_dir / rundir.SUMMARY, summary)
        self.emit("end", summary)
        return summary


def _kernel_families(model_config, encoding: str) -> tuple[str, ...]:
    """The kernel families of the network ``model_config`` describes, from its layers alone: built on the meta
    device (shapes, no memory, no initialisation), before training builds its own once the data are in."""
    from spikevision import model

    with torch.device("meta"):
        return model.build_model(model_config).kernel_families(encoding)


def _train_step(model, optimizers: tuple, train_data: TensorData, batch: torch.Tensor, cfg: TrainConfig,
                step: int, ctx: distributed.Context, interrupted: bool) -> tuple[dict, bool]:
    """One optimiser step on ``batch``; returns the step's record and whether to stop (Ctrl-C in any process).

    ``optimizers``: the optimiser, the schedule (or None) and fp16's loss scaler (or None).
    """
    x, target = _step_inputs(train_data, batch, cfg, step, ctx)
    with precision.autocast(cfg.precision, ctx.device):
        out = model(x, num_steps=cfg.num_steps)
    loss = loss_fn(out.spk.float(), out.mem.float(), target, cfg)  # the loss in float32 whatever the precision
    with torch.no_grad():
        correct = (metrics.predict(out.spk, out.mem, cfg.prediction) == target).float()
    stop = False
    if ctx.distributed:
        # The global batch's mean loss and accuracy, and whether any process was interrupted: one all-reduce.
        share = len(target) / len(batch)
        sums = distributed.sum_over_processes(torch.stack([
            loss.detach() * share, correct.sum(), torch.tensor(float(interrupted), device=loss.device)]), ctx)
        loss_value, accuracy, stop = float(sums[0]), float(sums[1]) / len(batch), bool(sums[2] > 0)
        # DDP averages gradients over processes: weight each process's mean by its share of the batch.
        loss = loss * (share * ctx.world_size)
    else:
        loss_value, accuracy = loss.item(), correct.mean().item()
    if not math.isfinite(loss_value):
        raise TrainingDiverged(f"loss became {loss_value} at step {step + 1}")
    lr = optimizers[0].param_groups[0]["lr"]  # the rate this step uses; _apply_gradients moves the schedule on
    _apply_gradients(loss, *optimizers, step)
    # NaN can reach the weights while the loss stays finite (a NaN hidden membrane never spikes, so the
    # output sees zeros): check the weights too, or they would be trained on and saved.
    _check_finite(model, step + 1)
    return {"loss": loss_value, "accuracy": accuracy, "lr": lr}, stop


def _step_inputs(train_data: TensorData, batch: torch.Tensor, cfg: TrainConfig, step: int,
                 ctx: distributed.Context) -> tuple[torch.Tensor, torch.Tensor]:
    """The network input and targets of this process's share of step ``step``'s batch, on its device."""
    generator = step_generator(cfg.seed, step)
    # Dropout and any other draw from the global RNG; another stream for each process of a group.
    torch.manual_seed(cfg.seed * 1_000_003 + step + ctx.rank * 1_000_000_007)
    images = augment(training_images(train_data, batch, cfg, generator), cfg, generator)
    target = train_data.labels[batch]
    x = model_input(images, cfg, generator)  # the global batch's draws, the same in every process
    if ctx.distributed:
        mine = ctx.shard(len(batch))
        x, target = (x[mine] if cfg.encoding == "direct" else x[:, mine]), target[mine]
    return x, target


def _apply_gradients(loss: torch.Tensor, optimizer, scheduler, scaler, step: int) -> None:
    """Backward and one optimiser step (through fp16's loss scaler when there is one), then the schedule's."""
    optimizer.zero_grad(set_to_none=True)
    (loss if scaler is None else scaler.scale(loss)).backward()
    try:
        if scaler is None:
            optimizer.step()
        else:  # skips the step when the scaled gradients overflowed, and lowers the scale
            scaler.step(optimizer)
            scaler.update()
    except RuntimeError as exc:  # e.g. Adam's lr / bias correction beyond float32: a divergence, not a bug
        if "overflow" not in str(exc):
            raise
        raise TrainingDiverged(f"the optimiser step overflowed at step {step + 1} ({exc})") from None
    if scheduler is not None:
        scheduler.step()


def _triton_runs_on(device: torch.device) -> bool:
    """Whether the LIF layers' kernels on ``device`` are Triton's (a GPU, and Triton installed)."""
    return device.type == "cuda" and gpu.available()


@contextlib.contextmanager
def _said_if_slow(seconds: float, say: Callable[[], None]):
    """Run the body; if it is still running after ``seconds``, call ``say()`` once (from a timer thread)."""
    timer = threading.Timer(seconds, say)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


@contextlib.contextmanager
def _deferred_interrupt():
    """Turn the first Ctrl-C (or SIGTERM, as a scheduler or `kill` sends) into a flag checked between
    steps, so the run stops with a checkpoint that is never of a half step.

    A second signal interrupts at once (the last checkpoint on disk stays as it was).
    """
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        if flag.is_set():
            raise KeyboardInterrupt
        flag.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _check_finite(model: torch.nn.Module, step: int) -> None:
    state = {name: value for name, value in model.state_dict().items() if value.is_floating_point()}
    finite = torch.stack([torch.isfinite(value).all() for value in state.values()])
    if not bool(finite.all()):  # one host sync per step, not one per tensor
        name = list(state)[int((~finite).nonzero()[0])]
        raise TrainingDiverged(f"weights became NaN or infinite at step {step} ({name})")


@contextlib.contextmanager
def _diverged_message(ckpt_path: Path, cfg: TrainConfig):
    """Finish a TrainingDiverged message with what is on disk and what to change."""
    try:
        yield
    except TrainingDiverged as exc:
        if ckpt_path.is_file():
            step = read_metadata(ckpt_path)["progress"]["step"]
            kept = f"the last good checkpoint (step {step}) is kept in {ckpt_path.parent}"
        else:
            kept = "no checkpoint had been written yet"
        raise TrainingDiverged(f"{exc}; {kept}. Lower train.lr (now {cfg.lr:g}) or change the loss.") from None


# What the metrics.jsonl readers (figures, report) take from each history record.
TRITON_NOTICE_SECONDS = 3.0  # a first GPU step longer than this is compiling: say so rather than sit silent
_RECORD_KEYS = {"step": ("step", "loss", "accuracy"), "epoch": ("epoch", "step", "test_accuracy")}


def _checked_progress(meta: dict, path: Path, cfg: TrainConfig, steps_per_epoch: int) -> dict:
    """The checkpoint's progress record, checked against the run's config before training relies on it."""
    progress = meta.get("progress")
    ok = (
        isinstance(progress, dict)
        and all(type(progress.get(k)) is int for k in ("step", "epochs_done"))
        and all(isinstance(progress.get(k), (int, float)) for k in ("train_seconds", "eval_seconds"))
        and isinstance(progress.get("history"), list)
        and all(_is_record(r) for r in progress["history"])
    )
    if not ok:
        raise InvalidValue(f"{path} has no readable progress record; it was not written by spikevision train")
    step, epochs = progress["step"], progress["epochs_done"]
    # A mid-epoch checkpoint sits inside its epoch; an edited batch_size or train_subset would not.
    if not (0 <= epochs <= cfg.epochs and epochs * steps_per_epoch <= step <= (epochs + 1) * steps_per_epoch
            and (epochs == 0 or isinstance(progress.get("last_eval"), dict))):
        raise InvalidValue(f"{path} is at step {step} after {epochs} epoch(s), which does not fit the run's "
                           f"config ({steps_per_epoch} steps per epoch, {cfg.epochs} epochs); was config.json edited?")
    return progress


def _is_record(record) -> bool:
    keys = _RECORD_KEYS.get(record.get("kind")) if isinstance(record, dict) else None
    return keys is not None and all(isinstance(record.get(k), (int, float)) for k in keys)


def _load_scheduler(scheduler, meta: dict) -> None:
    state = meta.get("scheduler")
    # load_state_dict copies every key onto the scheduler: accept only keys it has itself.
    if not isinstance(state, dict) or not set(state) <= set(scheduler.state_dict()):
        raise InvalidValue("no matching schedule state")
    scheduler.load_state_dict(state)


def _summary(config: RunConfig, progress: Progress, model: torch.nn.Module) -> dict:
    result = progress.last_eval
    return {
        "preset": config.preset,
        "dataset": config.train.dataset,
        "test_accuracy": result["accuracy"],
        "prediction": config.train.prediction,
        "test_accuracy_by_rule": result["accuracy_by_rule"],  # "spikes": the handout's rule
        "test_samples": result["num_samples"],
        "test_loss": result["loss"],
        "epochs": config.train.epochs,
        "steps": progress.step,
        "train_seconds": round(progress.train_seconds, 2),
        "eval_seconds": round(progress.eval_seconds, 2),
        "spikes_per_sample": result["spikes_per_sample"]["total"],
        "spikes_per_layer": result["spikes_per_sample"]["layers"],
        "input_spikes_per_sample": result["spikes_per_sample"]["input"],  # None for direct input
        "synops_per_sample": result["synops_per_sample"],
        "energy": result["energy"],
        "per_class_accuracy": result["per_class_accuracy"],
        "parameters": sum(p.numel() for p in model.parameters()),
        "torch_threads": torch.get_num_threads(),
    }
