"""How long the pictures and the data loading take here: the timings the tests do not assert.

Prints seconds (median of 3) for: loading the verified 60,000-image MNIST train split again; writing a
200-frame spike animation (one rate-coded digit) as GIF and as MP4; drawing a 200 x 784 raster; writing a
120-frame spike-count bar animation as GIF.

Run:  python benchmarks/bench_io.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch

from spikevision import data
from spikevision.pictures import animation, plotting


def median_seconds(job, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        tick = time.perf_counter()
        job()
        times.append(time.perf_counter() - tick)
    return statistics.median(times)


def main() -> None:
    generator = torch.Generator().manual_seed(0)
    digit = (torch.rand(200, 1, 28, 28, generator=generator) < 0.3).float()
    raster_spikes = (torch.rand(200, 784, generator=generator) < 0.2).float()
    counts = (torch.rand(120, 10, generator=generator) < torch.linspace(0.05, 0.5, 10)).float()
    data.load("mnist", "train")  # fetched and stamped once, outside the timing

    def raster():
        fig, ax = plotting.new_figure(figsize=(10, 5))
        plotting.raster(ax, raster_spikes)
        plotting.figure_to_array(fig)

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        jobs = {
            "load the MNIST train split (verified before)": lambda: data.load("mnist", "train"),
            "200-frame spike animation, GIF": lambda: animation.save_animation(digit, out / "a.gif"),
            "200-frame spike animation, MP4": lambda: animation.save_animation(digit, out / "a.mp4"),
            "raster of 200 x 784 spikes": raster,
            "120-frame spike-count bars, GIF": lambda: animation.spike_count_animation(
                counts, out / "bars.gif", labels=list("0123456789"), dpi=80),
        }
        for name, job in jobs.items():
            print(f"{name:48s} {median_seconds(job):7.3f} s", flush=True)


if __name__ == "__main__":
    main()
