"""A training run's progress for a person: a bar over the steps and one line per epoch, on stderr.

``train.fit`` shows it by default (Python users see what the command line shows); the command line passes
the same printer. Its first line says when the LIF kernels are compiled (numba, on a fresh install only; on a
GPU, Triton, when the first step takes seconds), and the bar starts after the first step, so that compiling
never makes its ETA hours long.
"""

from __future__ import annotations

import sys


class ProgressPrinter:
    """An ``on_event`` handler for ``train.fit``: "start", "compile", "step", "epoch" and "end" events."""

    def __init__(self, disable: bool = False, stream=None):
        self.disable = disable
        self.stream = stream or sys.stderr
        self.bar = None
        self.total = 0
        self.running_acc = None

    def __call__(self, kind: str, info: dict) -> None:
        if kind == "start":
            self.total = info["total_steps"]
            if info.get("step"):  # a resumed run: say where it picks up
                per_epoch = info["steps_per_epoch"]
                self._line(f"resuming at step {info['step']:,} of {self.total:,} (epoch {info['step'] // per_epoch + 1}"
                           f" of {self.total // per_epoch}), from the last checkpoint")
        elif kind == "compile" and info.get("engine") == "triton":
            self._line("the first step is compiling the GPU kernels (Triton, which keeps them in its cache: "
                       "later runs with the same shapes start at once)...")
        elif kind == "compile":
            families = ", ".join(info.get("families", ())) or "LIF"
            self._line(f"compiling the {families} kernels for the CPU (numba, first run after install only; "
                       "side by side on the free cores)...")
        elif kind == "step":
            self._step(info)
        elif kind == "epoch":
            if self.bar is not None and self.bar.n >= self.total:
                self.close()  # the last epoch: the bar goes (leave=False), not drawn again under its line
            self._line(f"epoch {info['epoch']}: test accuracy {info['test_accuracy'] * 100:.2f}% "
                       f"(loss {info['test_loss']:.3f}, {info['train_seconds']:.0f} s training so far)")

    def _step(self, info: dict) -> None:
        if self.bar is None:  # made after the first step: its rate, and so its ETA, come from timed steps only
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, initial=info["step"], unit="step", dynamic_ncols=True,
                            disable=self.disable, file=self.stream, leave=False)
            return
        acc = info["accuracy"]
        self.running_acc = acc if self.running_acc is None else 0.9 * self.running_acc + 0.1 * acc
        self.bar.set_postfix(epoch=info["epoch"] + 1, loss=f"{info['loss']:.3f}", acc=f"{self.running_acc:.3f}",
                             refresh=False)
        self.bar.update(1)

    def _line(self, text: str) -> None:  # shown with the bar disabled too (--quiet keeps the epoch lines)
        if self.bar is not None and not self.disable:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
