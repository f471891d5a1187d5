"""AEDAT 3.1 files and DVS128 Gesture's labels (data/aedat3.py): files written in the format read back to the
event, tonic 1.7.0's reader gets the same events from them, and truncated or forged files are refused."""

from __future__ import annotations

import numpy as np
import pytest
from tonic_reference import tonic_module

from spikevision.data import aedat3
from spikevision.data import events as ev


def recording(seed: int = 0, count: int = 20_000, duration: int = 6_000_000, start: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ev.make(rng.integers(0, 128, count), rng.integers(0, 128, count),
                   np.sort(rng.integers(start, start + duration, count)), rng.integers(0, 2, count))


def test_a_file_reads_back_event_for_event(tmp_path):
    events = recording()
    path = tmp_path / "user01_fluorescent.aedat"
    path.write_bytes(aedat3.encode(events, packet_events=3000))
    assert aedat3.read(path).tolist() == events.tolist()


def test_times_past_31_bits_carry_over_in_the_packets_overflow_field(tmp_path):
    events = recording(1, count=5000, duration=4_000_000, start=2**31 - 2_000_000)
    raw = aedat3.encode(events)
    assert aedat3.decode(raw).tolist() == events.tolist()
    assert (events["t"] >= 2**31).any() and (events["t"] < 2**31).any()


def test_tonic_reads_the_same_events_from_the_same_file(tmp_path):
    """tonic's DVS Gesture path: its header reader, its packet reader and read_dvs_ibm's address layout (1.7.0's
    read_dvs_ibm itself unpacks two of the header reader's three values and fails)."""
    io = tonic_module("io")
    events = recording(2)
    path = tmp_path / "user02_led.aedat"
    path.write_bytes(aedat3.encode(events))
    version, start, _ = io.read_aedat_header_from_file(str(path))
    raw = io.get_aer_events_from_file(str(path), version, start)
    address = raw["address"]
    theirs = ev.make((address >> 17) & 0x1FFF, (address >> 2) & 0x1FFF, raw["timeStamp"], (address >> 1) & 1)
    assert version == 3.1 and aedat3.read(path).tolist() == theirs.tolist() == events.tolist()


def test_other_packets_and_invalid_events_are_skipped():
    events = recording(3, count=100)
    raw = aedat3.encode(events)
    header_end = raw.index(b"#!END-HEADER\r\n") + len(b"#!END-HEADER\r\n")
    special = np.zeros(1, aedat3._PACKET)
    special[0] = (0, 1, 8, 4, 0, 2, 2, 2)  # two special events of 8 bytes
    frame = np.zeros(1, aedat3._PACKET)
    frame[0] = (2, 1, 12, 4, 0, 1, 1, 1)  # one 12-byte event of another type
    extra = special.tobytes() + bytes(16) + frame.tobytes() + bytes(12)
    invalid = bytearray(raw[header_end:])
    invalid[28:32] = (int.from_bytes(invalid[28:32], "little") & ~1).to_bytes(4, "little")  # first event invalid
    got = aedat3.decode(raw[:header_end] + extra + bytes(invalid))
    assert got.tolist() == events[1:].tolist()


def test_truncated_and_forged_files_are_refused_in_one_line(tmp_path):
    raw = aedat3.encode(recording(4, count=500))
    path = tmp_path / "cut.aedat"
    path.write_bytes(raw[:-5])
    with pytest.raises(ValueError, match=r"cut.aedat: the packet at byte \d+ says 500 events of 8 bytes, more than"):
        aedat3.read(path)
    with pytest.raises(ValueError, match="not an AEDAT 3.x file"):
        aedat3.decode(b"#!AER-DAT2.0\r\n" + raw[14:])
    with pytest.raises(ValueError, match="the header never ends"):
        aedat3.decode(raw[:30])
    start = raw.index(b"#!END-HEADER\r\n") + 14
    forged = bytearray(raw)
    forged[start + 16: start + 20] = (2**30).to_bytes(4, "little")  # a capacity of a billion events
    with pytest.raises(ValueError, match="says 1073741824 events of 8 bytes, more than the 4000 bytes left"):
        aedat3.decode(bytes(forged))
    with pytest.raises(ValueError, match="bytes after the last packet are not a packet header"):
        aedat3.decode(raw + bytes(10))
    off = recording(5, count=10)
    off["x"][3] = 200
    with pytest.raises(ValueError, match="event 3 has x = 200, outside 0..127"):
        aedat3.decode(aedat3.encode(off, ev.Sensor(256, 128)))


def test_a_recording_is_cut_into_its_labelled_gestures(tmp_path):
    events = recording(6)
    csv = tmp_path / "user01_fluorescent_labels.csv"
    csv.write_text("class,startTime_usec,endTime_usec\n3,100000,1500000\n11,2000000,2600000\n\n")
    labels = aedat3.read_labels(csv)
    assert labels.tolist() == [[2, 100_000, 1_500_000], [10, 2_000_000, 2_600_000]]
    cut = aedat3.gestures(events, labels)
    assert [label for _, label in cut] == [2, 10]
    first = events[(events["t"] >= 100_000) & (events["t"] < 1_500_000)]
    assert cut[0][0]["t"].tolist() == (first["t"] - 100_000).tolist()
    assert cut[0][0][["x", "y", "p"]].tolist() == first[["x", "y", "p"]].tolist()


@pytest.mark.parametrize("text, message", [
    ("label,start,end\n1,0,10\n", "the first line must be class,startTime_usec,endTime_usec"),
    ("class,startTime_usec,endTime_usec\n12,0,10\n", "line 2: class 12 must be in 1..11"),
    ("class,startTime_usec,endTime_usec\n1,10,10\n", "must end after it starts"),
    ("class,startTime_usec,endTime_usec\n1,0,ten\n", "line 2: expected three whole numbers"),
])
def test_bad_labels_are_refused_in_one_line(tmp_path, text, message):
    path = tmp_path / "labels.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        aedat3.read_labels(path)
