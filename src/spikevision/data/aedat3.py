"""AEDAT 3.1 event files (iniVation's cAER and jAER), as the DVS128 Gesture dataset ships its recordings, and the
labels CSV that cuts a recording into gestures.

A file is a text header, lines that start with ``#`` (the first ``#!AER-DAT3.1``, the last ``#!END-HEADER``),
then packets, little-endian. A packet is a 28-byte header of eight int32-sized fields::

    eventType (int16)  eventSource (int16)  eventSize  eventTSOffset  eventTSOverflow
    eventCapacity  eventNumber  eventValid

and ``eventCapacity`` events of ``eventSize`` bytes. Polarity events (type 1) are 8 bytes: a uint32 of data
(bit 0 valid, bit 1 polarity, bits 2-16 y, bits 17-31 x) and an int32 timestamp in microseconds, which the
packet's ``eventTSOverflow`` extends by 31 bits. Packets of other types (frames, IMU samples, special events)
are skipped, and so are events whose valid bit is 0 (a DVS128 Gesture file has none: tonic's reader, which keeps
them, reads the same events from it).

The labels CSV of a recording (``user01_fluorescent_labels.csv``) has a header line ``class,startTime_usec,
endTime_usec`` and a row per gesture; class 1..11 is label 0..10. ``gestures`` cuts a recording into its
gestures: the events with ``start <= t < end``, their times from the gesture's start.

Bounded as the other readers are: the header of each packet is checked against the bytes left, nothing is
allocated from a number the file has not backed with bytes, and a truncated or forged file is refused in one
line that names it.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from spikevision.data import events as ev
from spikevision.errors import InvalidValue

DVS128 = ev.Sensor(128, 128)
POLARITY_EVENT = 1
_PACKET = np.dtype([("type", "<i2"), ("source", "<i2"), ("size", "<i4"), ("ts_offset", "<i4"),
                    ("ts_overflow", "<i4"), ("capacity", "<i4"), ("number", "<i4"), ("valid", "<i4")])
_POLARITY = np.dtype([("data", "<u4"), ("t", "<i4")])
_END = b"#!END-HEADER\r\n"
_CSV_HEADER = ["class", "startTime_usec", "endTime_usec"]


def decode(raw: bytes, sensor: ev.Sensor = DVS128, *, source: str = "AEDAT 3.1 file") -> np.ndarray:
    """The polarity events of a file's bytes (``read`` without the file), in time order."""
    start = _data_start(raw, source)
    parts, at = [], start
    while at < len(raw):
        if len(raw) - at < _PACKET.itemsize:
            raise InvalidValue(f"{source}: {len(raw) - at} bytes after the last packet are not a packet header; "
                               "the file is truncated")
        head = np.frombuffer(raw, _PACKET, 1, at)[0]
        size, capacity = int(head["size"]), int(head["capacity"])
        length = size * capacity
        if size < 1 or capacity < 0 or length > len(raw) - at - _PACKET.itemsize:
            raise InvalidValue(f"{source}: the packet at byte {at} says {capacity} events of {size} bytes, more "
                               f"than the {len(raw) - at - _PACKET.itemsize} bytes left: truncated or not AEDAT 3.1")
        at += _PACKET.itemsize
        if head["type"] == POLARITY_EVENT:
            if size != _POLARITY.itemsize:
                raise InvalidValue(f"{source}: polarity events of {size} bytes at byte {at}; AEDAT 3.1's are 8")
            body = np.frombuffer(raw, _POLARITY, capacity, at)
            if capacity and body["t"].min() < 0:
                raise InvalidValue(f"{source}: a negative timestamp in the packet at byte {at - _PACKET.itemsize}; "
                                   "AEDAT 3.1 times are 31-bit microseconds")
            parts.append(_polarity(body, int(head["ts_overflow"])))
        at += length
    events = np.concatenate(parts) if parts else ev.make([], [], [], [])
    return ev.check(events, sensor, source=source)


def read(path: str | Path, sensor: ev.Sensor = DVS128) -> np.ndarray:
    """The polarity events of an AEDAT 3.1 file, in time order; a bad file refused in one line naming it."""
    path = Path(path)
    return decode(path.read_bytes(), sensor, source=str(path))


def encode(events: np.ndarray, sensor: ev.Sensor = DVS128, *, packet_events: int = 4096) -> bytes:
    """The bytes of an AEDAT 3.1 file of ``events`` (polarity events, packets of at most ``packet_events``, a
    new packet wherever the timestamps' 31 bits overflow), which ``decode`` reads back to the event."""
    events = ev.check(events, sensor)
    if events.size and events["t"][0] < 0:
        raise InvalidValue("AEDAT 3.1 times are microseconds >= 0")
    out = [b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n", _END]
    overflow = events["t"] >> 31
    cuts = np.flatnonzero(np.diff(overflow)) + 1
    for group in np.split(np.arange(events.size), cuts):
        for chunk in np.array_split(group, max(1, -(-group.size // packet_events))):
            if chunk.size == 0:
                continue
            part = events[chunk]
            head = np.zeros(1, _PACKET)
            head[0] = (POLARITY_EVENT, 1, _POLARITY.itemsize, 4, part["t"][0] >> 31, chunk.size, chunk.size,
                       chunk.size)
            body = np.empty(chunk.size, _POLARITY)
            body["data"] = (1 | (part["p"].astype(np.uint32) << 1) | (part["y"].astype(np.uint32) << 2)
                            | (part["x"].astype(np.uint32) << 17))
            body["t"] = part["t"] & 0x7FFFFFFF
            out += [head.tobytes(), body.tobytes()]
    return b"".join(out)


def read_labels(path: str | Path, classes: int = 11) -> np.ndarray:
    """A recording's labels CSV as rows ``(label, start_us, end_us)``, int64 ``[G, 3]``, labels from 0."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidValue(f"{path}: cannot read the labels ({exc})") from exc
    return parse_labels(text, classes, source=str(path))


def parse_labels(text: str, classes: int = 11, *, source: str = "labels CSV") -> np.ndarray:
    """``read_labels`` of a CSV's text."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or [cell.strip() for cell in rows[0]] != _CSV_HEADER:
        raise InvalidValue(f"{source}: the first line must be {','.join(_CSV_HEADER)}; not a DVS128 Gesture labels "
                           "file")
    out = []
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            label, start, end = (int(cell) for cell in row)
        except ValueError:
            raise InvalidValue(f"{source}, line {number}: expected three whole numbers, got {row}") from None
        if not 1 <= label <= classes or not 0 <= start < end:
            raise InvalidValue(f"{source}, line {number}: class {label} must be in 1..{classes} and the gesture "
                               f"must end after it starts ({start}..{end} us)")
        out.append((label - 1, start, end))
    return np.array(out, dtype=np.int64).reshape(-1, 3)


def gestures(events: np.ndarray, labels: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """A recording cut into its labelled gestures: for each row ``(label, start, end)`` the events with
    ``start <= t < end``, times from ``start``, and the label."""
    out = []
    times = events["t"]
    for label, start, end in labels:
        piece = events[np.searchsorted(times, start): np.searchsorted(times, end)].copy()
        piece["t"] -= start
        out.append((piece, int(label)))
    return out


def _data_start(raw: bytes, source: str) -> int:
    """Where the packets start: after the header's ``#!END-HEADER`` line; the header must say AEDAT 3.x."""
    if not raw.startswith(b"#!AER-DAT3."):
        raise InvalidValue(f"{source}: not an AEDAT 3.x file (it must start with #!AER-DAT3.1)")
    end = raw.find(_END)
    if end < 0:
        raise InvalidValue(f"{source}: the header never ends (no #!END-HEADER line); the file is truncated")
    return end + len(_END)


def _polarity(body: np.ndarray, ts_overflow: int) -> np.ndarray:
    """A packet's valid polarity events as ``events.DTYPE``."""
    body = body[(body["data"] & 1) == 1]
    data = body["data"]
    times = (np.int64(ts_overflow) << 31) | body["t"].astype(np.int64)
    return ev.make((data >> 17) & 0x7FFF, (data >> 2) & 0x7FFF, times, (data >> 1) & 1)
