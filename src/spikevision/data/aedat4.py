"""AEDAT4 files (iniVation's DV software and cameras: DVXplorer, DAVIS346, ...): the events of a recording.

AEDAT4 is a header of stream descriptions (an XML inside a FlatBuffer) and then packets, each a FlatBuffer of
one stream's data, compressed with LZ4 or Zstandard. Rather than a decoder of its own, spikevision reads it with
``aedat`` (neuromorphicsystems' Rust decoder, a 0.5 MB wheel that needs only numpy; tonic's reader uses it too),
picked over iniVation's ``dv-processing`` by measurement: both decode a 1,000,000-event file in 31-33 ms here,
and dv-processing is a 24 MB wheel (benchmarks/bench_aedat4.py, docs/PERFORMANCE.md "Reading AEDAT4").
tests/test_aedat4.py writes its files with dv-processing, iniVation's own writer, and reads them back here.

A file may hold several streams; ``read`` takes the event stream with the lowest id (tonic's choice), or the
one named by ``stream``. The sensor's size comes from the stream's own description.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spikevision.data import events as ev
from spikevision.errors import InvalidValue


def read(path: str | Path, *, stream: int | None = None) -> tuple[np.ndarray, ev.Sensor]:
    """The events of an AEDAT4 file (``events.DTYPE``, in time order) and its sensor; a file that is not
    AEDAT4, is truncated or has no events is refused in one line that names it."""
    import aedat

    path = Path(path)
    if not path.is_file():
        raise InvalidValue(f"{path}: no such file")
    try:
        decoder = aedat.Decoder(str(path))
        streams = decoder.id_to_stream()
        chosen = _event_stream(streams, stream, path)
        parts = [packet["events"] for packet in decoder if packet["stream_id"] == chosen and "events" in packet]
    except (OSError, RuntimeError, ValueError) as exc:  # the decoder's own words: truncated, corrupt, not AEDAT4
        raise InvalidValue(f"{path}: not a readable AEDAT4 file ({exc})") from None
    sensor = ev.Sensor(int(streams[chosen]["width"]), int(streams[chosen]["height"]))
    if not parts:
        return ev.make([], [], [], []), sensor
    raw = np.concatenate(parts)
    events = ev.make(raw["x"], raw["y"], raw["t"].astype(np.int64), raw["on"])
    return ev.check(events, sensor, source=str(path)), sensor


def _event_stream(streams: dict, wanted: int | None, path: Path) -> int:
    """The id of the stream to read: ``wanted``, if it is an event stream; else the event stream with the
    lowest id."""
    events = sorted(i for i, description in streams.items() if description.get("type") == "events")
    if not events:
        raise InvalidValue(f"{path}: the file has no event stream (streams: "
                           f"{', '.join(str(d.get('type')) for d in streams.values()) or 'none'})")
    if wanted is None:
        return events[0]
    if wanted not in events:
        raise InvalidValue(f"{path}: stream {wanted} is not an event stream; the event streams are {events}")
    return wanted
