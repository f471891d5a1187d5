"""The ATIS camera's binary event files, as N-MNIST and N-Caltech101 ship their samples (Orchard et al. 2015).

A file is a list of events of 40 bits (5 bytes) each, most significant bit first, no header::

    bits 39-32  x, the pixel column          bit 23     polarity: 1 ON (brighter), 0 OFF (darker)
    bits 31-24  y, the pixel row             bits 22-0  timestamp, microseconds

A timestamp of 23 bits runs out after 8.4 s. The datasets' reference reader (Orchard's ``Read_Ndataset.m``)
reads an event whose ``y`` is 240 as no event but a timestamp overflow: every event after it is ``2**13`` us later.
``read`` does the same, vectorised; ``encode`` gives the bytes of a sample that ``decode`` reads back to the bit,
with overflow events put in where its times need them.

Bounded as the IDX reader is: the file's size says how many events it holds and nothing is allocated beyond it;
a file whose size is not a whole number of events, an event off the sensor, or times that run backwards are
refused in one line that names the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spikevision.data import events as ev
from spikevision.errors import InvalidValue

EVENT_BYTES = 5
OVERFLOW_Y = 240  # an event with this row is a timestamp overflow
OVERFLOW_US = 2**13  # what each overflow adds to the times after it
TIME_BITS = 23
NMNIST = ev.Sensor(34, 34)  # N-MNIST's sensor: 34 x 34 pixels, ON and OFF


def decode(raw: bytes, sensor: ev.Sensor = NMNIST, *, source: str = "ATIS events") -> np.ndarray:
    """The events of one sample from its file's bytes (``read`` without the file)."""
    if len(raw) % EVENT_BYTES:
        raise InvalidValue(f"{source}: {len(raw)} bytes is not a whole number of 5-byte events; the file is "
                           "truncated or not an ATIS event file (N-MNIST, N-Caltech101)")
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(-1, EVENT_BYTES).astype(np.int64)
    overflow = rows[:, 1] == OVERFLOW_Y
    times = ((rows[:, 2] & 0x7F) << 16) | (rows[:, 3] << 8) | rows[:, 4]
    times += OVERFLOW_US * np.cumsum(overflow)  # each overflow moves every later event on
    kept = ~overflow
    out = ev.make(rows[kept, 0], rows[kept, 1], times[kept], rows[kept, 2] >> 7)
    return ev.check(out, sensor, source=source)


def read(path: str | Path, sensor: ev.Sensor = NMNIST) -> np.ndarray:
    """The events of one sample file (``data.events.DTYPE``), checked against ``sensor``."""
    path = Path(path)
    return decode(path.read_bytes(), sensor, source=str(path))


def encode(events: np.ndarray, sensor: ev.Sensor = NMNIST) -> bytes:
    """The bytes ``decode`` reads back as ``events`` (checked against ``sensor``; pixels below 240 wide and high,
    as the format's 8-bit addresses and its overflow marker allow)."""
    ev.check(events, sensor, source="events to write")
    if sensor.width > 256 or sensor.height > OVERFLOW_Y:
        raise InvalidValue(f"an ATIS file holds pixels up to 255 x {OVERFLOW_Y - 1}; the sensor is "
                           f"{sensor.width}x{sensor.height}")
    if events.size and int(events["t"][0]) < 0:
        raise InvalidValue("events to write: times must be >= 0 microseconds")
    times = events["t"].astype(np.int64)
    # Overflows needed before each event: enough that what is left of its time fits in 23 bits.
    needed = np.maximum(0, -(-(times - (2**TIME_BITS - 1)) // OVERFLOW_US))
    rows = np.zeros((events.size + int(needed[-1] if needed.size else 0), EVENT_BYTES), dtype=np.uint8)
    at = np.arange(events.size) + needed  # each event's row, after the overflows it needs
    overflows = np.ones(rows.shape[0], dtype=bool)
    overflows[at] = False
    rows[overflows, 1] = OVERFLOW_Y  # every other row: an overflow, just before the first event that needs it
    left = times - OVERFLOW_US * needed
    rows[at, 0] = events["x"]
    rows[at, 1] = events["y"]
    rows[at, 2] = (events["p"].astype(np.int64) << 7) | (left >> 16)
    rows[at, 3] = (left >> 8) & 0xFF
    rows[at, 4] = left & 0xFF
    return rows.tobytes()
