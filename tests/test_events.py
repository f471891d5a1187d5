"""Events as data (``data.events``) and the ATIS binary files of N-MNIST and N-Caltech101 (``data.atis``), on files
the tests write byte by byte from the format's description: bit layout, overflow events, bounds, refusals."""

from __future__ import annotations

import numpy as np
import pytest
from tonic_reference import tonic_module

from spikevision.data import atis
from spikevision.data import events as ev


def _event_bytes(x: int, y: int, p: int, t: int) -> bytes:
    """One 40-bit event, written from the format's description (not through the module under test)."""
    word = (x << 32) | (y << 24) | (p << 23) | t
    return word.to_bytes(5, "big")


def test_a_file_written_bit_by_bit_reads_as_its_events():
    raw = _event_bytes(3, 30, 1, 0) + _event_bytes(33, 0, 0, 1234) + _event_bytes(0, 33, 1, 2**23 - 1)
    got = atis.decode(raw)
    assert got.dtype == ev.DTYPE and got.dtype.names == ("x", "y", "t", "p")  # tonic's fields, in its order
    assert got["x"].tolist() == [3, 33, 0] and got["y"].tolist() == [30, 0, 33]
    assert got["t"].tolist() == [0, 1234, 2**23 - 1] and got["p"].tolist() == [1, 0, 1]


def test_an_overflow_event_moves_every_later_event_on_by_8192_us_and_is_no_event_itself():
    raw = (_event_bytes(1, 1, 1, 100) + _event_bytes(0, atis.OVERFLOW_Y, 0, 0) + _event_bytes(2, 2, 0, 50)
           + _event_bytes(0, atis.OVERFLOW_Y, 0, 0) + _event_bytes(0, atis.OVERFLOW_Y, 0, 0)
           + _event_bytes(3, 3, 1, 7))
    got = atis.decode(raw)
    assert got["t"].tolist() == [100, 8192 + 50, 3 * 8192 + 7] and got["x"].tolist() == [1, 2, 3]


def test_encode_gives_back_the_bytes_it_read_and_puts_in_the_overflows_long_times_need(tmp_path):
    raw = b"".join(_event_bytes(int(x), int(y), int(p), int(t)) for x, y, p, t in
                   zip(*(np.random.default_rng(0).integers(0, n, 500) for n in (34, 34, 2)),
                       np.sort(np.random.default_rng(1).integers(0, 300_000, 500))))
    events = atis.decode(raw)
    assert atis.encode(events) == raw  # byte for byte: no overflow needed below 2**23 us
    path = tmp_path / "00002.bin"
    path.write_bytes(raw)
    assert np.array_equal(atis.read(path), events)
    long = ev.make([1, 2, 3], [4, 5, 6], [5, 2**23 + 10, 3 * 2**23], [1, 0, 1])
    encoded = atis.encode(long)
    assert len(encoded) % 5 == 0 and len(encoded) > 15  # overflow events were put in
    assert np.array_equal(atis.decode(encoded), long)


@pytest.mark.parametrize("raw, message", [
    (_event_bytes(1, 1, 1, 5)[:4], "4 bytes is not a whole number of 5-byte events"),
    (_event_bytes(34, 1, 1, 5), "event 0 has x = 34, outside 0..33 .a 34x34 sensor."),
    (_event_bytes(1, 1, 1, 50) + _event_bytes(2, 2, 1, 40), "event 1 at t = 40 us comes before"),
])
def test_a_truncated_or_forged_file_is_refused_in_one_line_that_names_it(tmp_path, raw, message):
    path = tmp_path / "sample.bin"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match=message) as caught:
        atis.read(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_an_empty_file_is_an_empty_sample_and_a_bigger_sensor_reads_bigger_pixels():
    assert atis.decode(b"").size == 0
    wide = _event_bytes(200, 150, 0, 9)
    with pytest.raises(ValueError, match="outside 0..33"):
        atis.decode(wide)
    assert atis.decode(wide, ev.Sensor(240, 180))["x"].tolist() == [200]  # N-Caltech101's sensor


def test_events_are_checked_and_refused_in_words():
    good = ev.make([0, 1], [0, 1], [0, 10], [0, 1])
    assert ev.check(good, ev.Sensor(2, 2)) is good
    with pytest.raises(ValueError, match="event 1 has p = 2, outside 0..1"):
        ev.check(ev.make([0, 1], [0, 1], [0, 10], [0, 2]), ev.Sensor(2, 2))
    with pytest.raises(TypeError, match="structured array with fields x, y, t, p"):
        ev.check(np.zeros(3), ev.Sensor(2, 2))
    with pytest.raises(TypeError, match="t must be whole numbers"):
        ev.make([0], [0], [0.5], [1])
    with pytest.raises(ValueError, match="1-d and of one length"):
        ev.make([0, 1], [0], [0], [1])
    with pytest.raises(ValueError, match="pixels up to 255 x 239"):
        atis.encode(good, ev.Sensor(304, 240))


def _tonic_io():
    """tonic 1.7.0's readers (tests/tonic_reference.py)."""
    return tonic_module("io")


def test_tonic_reads_the_same_events_from_the_same_files(tmp_path):
    rng = np.random.default_rng(5)
    times = np.sort(rng.integers(0, 310_000, 2000))
    sample = ev.make(rng.integers(0, 34, 2000), rng.integers(0, 34, 2000), times, rng.integers(0, 2, 2000))
    long = ev.make([1, 2, 3], [4, 5, 6], [5, 2**23 + 10, 3 * 2**23], [1, 0, 1])  # with overflow events
    tonic_io = _tonic_io()
    for name, events in (("short.bin", sample), ("long.bin", long)):
        path = tmp_path / name
        path.write_bytes(atis.encode(events))
        theirs = tonic_io.read_mnist_file(str(path), dtype=np.dtype([("x", int), ("y", int), ("t", int),
                                                                        ("p", int)]))
        ours = atis.read(path)
        assert all(np.array_equal(theirs[field], ours[field]) for field in "xytp"), name
