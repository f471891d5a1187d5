"""Reading AEDAT4: the two decoders on PyPI on the same file, to choose the one data/aedat4.py uses.

- ``aedat`` (neuromorphicsystems' Rust decoder; what tonic's ``read_aedat4`` uses): decoding alone, and
  ``aedat4.read``, which also converts to ``events.DTYPE`` and checks the events;
- ``dv-processing`` (iniVation's C++ library): ``MonoCameraRecording``, every event batch as numpy.

The file is written by dv-processing's own writer (LZ4, its default): ``--events`` random events on a 128 x 128
sensor over 60 s. Both readings are checked equal to what was written; then each is timed (median of
``--repeats``), interleaved.

Run:  python benchmarks/bench_aedat4.py [--events 1000000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from spikevision.data import aedat4


def write(path: Path, count: int) -> np.ndarray:
    import dv_processing as dv

    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 128, count), rng.integers(0, 128, count)
    t, p = np.sort(rng.integers(1_000_000, 61_000_000, count)), rng.integers(0, 2, count)
    writer = dv.io.MonoCameraWriter(str(path), dv.io.MonoCameraWriter.EventOnlyConfig("DVS128", (128, 128)))
    store = dv.EventStore()
    for k in range(count):
        store.push_back(int(t[k]), int(x[k]), int(y[k]), bool(p[k]))
    writer.writeEvents(store)
    del writer  # closes the file
    return np.rec.fromarrays([x, y, t, p], names="x,y,t,p")


def with_dv_processing(path: Path) -> np.ndarray:
    import dv_processing as dv

    recording = dv.io.MonoCameraRecording(str(path))
    parts = []
    while recording.isRunning():
        batch = recording.getNextEventBatch()
        if batch is not None:
            parts.append(batch.numpy())
    return np.concatenate(parts)


def with_aedat(path: Path) -> np.ndarray:
    return aedat4.read(path)[0]


def aedat_alone(path: Path) -> np.ndarray:
    import aedat

    return np.concatenate([packet["events"] for packet in aedat.Decoder(str(path)) if "events" in packet])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "recording.aedat4"
        written = write(path, args.events)
        ours, theirs = with_aedat(path), with_dv_processing(path)
        for name in "xyt":
            assert np.array_equal(ours[name], written[name])
        assert np.array_equal(theirs["timestamp"], written["t"]) and np.array_equal(theirs["x"], written["x"])
        runs = {"aedat, decoding alone": aedat_alone, "aedat4.read (+ DTYPE, check)": with_aedat,
                "dv-processing": with_dv_processing}
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, run in runs.items():
                start = time.perf_counter()
                run(path)
                times[name].append(time.perf_counter() - start)
        print(f"{args.events:,} events, {path.stat().st_size / 1e6:.1f} MB (LZ4): median of {args.repeats}")
        for name, values in times.items():
            print(f"  {name:<30} {statistics.median(values) * 1e3:7.1f} ms")


if __name__ == "__main__":
    main()
