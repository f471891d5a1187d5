"""Random changes to training samples of events (``events.DTYPE``), the event-camera counterparts of
``augment``'s: each returns a new sample, in time order and on the sensor, the input untouched.

The fixed changes are tonic 1.7.0's with their chance set to 1 (tests/test_event_augment.py): ``flip_lr``
(x -> W - 1 - x), ``flip_ud``, ``flip_polarity`` (ON <-> OFF) and ``reverse_time`` (t -> t_last - t, the order
reversed, and by default the polarities flipped: a brightening played backwards is a darkening). The random ones
draw from a ``numpy.random.Generator``, so a seed gives the same sample: ``time_jitter`` (Gaussian, the sample
re-sorted and events pushed before 0 dropped), ``shift`` (every event by one offset, those pushed off the sensor
dropped: ``augment.random_shift``'s zero fill) and ``drop`` (a share of the events, EventDrop's random drop).

Each has a batch form (``*_batch``, on an ``event_batch.Batch``), vectorised over the batch, that changes each
sample as the one-sample form would: the fixed ones the samples ``which`` picks (all by default), the random
ones with a draw of their own for each sample (its offset, its share dropped). The one-sample forms are a batch
of one.
"""

from __future__ import annotations

import numpy as np

from spikevision.data import event_batch as eb
from spikevision.data import events as ev
from spikevision.errors import InvalidValue


def flip_lr(events: np.ndarray, sensor: ev.Sensor) -> np.ndarray:
    """The sample mirrored left-right."""
    return flip_batch(eb.of_sample(events, sensor), sensor, "x").events


def flip_ud(events: np.ndarray, sensor: ev.Sensor) -> np.ndarray:
    """The sample mirrored top-bottom."""
    return flip_batch(eb.of_sample(events, sensor), sensor, "y").events


def flip_polarity(events: np.ndarray, sensor: ev.Sensor) -> np.ndarray:
    """The sample with ON and OFF swapped."""
    return flip_batch(eb.of_sample(events, sensor), sensor, "p").events


def reverse_time(events: np.ndarray, sensor: ev.Sensor, *, flip_polarities: bool = True) -> np.ndarray:
    """The sample played backwards: ``t -> t_last - t``, the events in reverse order, and (by default) ON and OFF
    swapped."""
    return reverse_time_batch(eb.of_sample(events, sensor), sensor, flip_polarities=flip_polarities).events


def time_jitter(events: np.ndarray, sensor: ev.Sensor, std_us: float,
                generator: np.random.Generator) -> np.ndarray:
    """Each event moved in time by a Gaussian draw of ``std_us`` us (rounded to whole us), the sample re-sorted
    by time (stably) and the events pushed before 0 dropped."""
    return time_jitter_batch(eb.of_sample(events, sensor), sensor, std_us, generator).events


def shift(events: np.ndarray, sensor: ev.Sensor, max_shift: int, generator: np.random.Generator) -> np.ndarray:
    """Every event moved by one offset drawn in ``[-max_shift, max_shift]`` pixels each way; events pushed off
    the sensor are dropped."""
    return shift_batch(eb.of_sample(events, sensor), sensor, max_shift, generator).events


def drop(events: np.ndarray, sensor: ev.Sensor, fraction: float, generator: np.random.Generator) -> np.ndarray:
    """The sample without ``round(fraction * n)`` of its events, chosen at random; the rest in their order."""
    return drop_batch(eb.of_sample(events, sensor), sensor, fraction, generator).events


def flip_batch(batch: eb.Batch, sensor: ev.Sensor, field: str, which: np.ndarray | None = None) -> eb.Batch:
    """The samples ``which`` picks (bool ``[B]``; all when None) mirrored along ``field``: ``"x"`` left-right,
    ``"y"`` top-bottom, ``"p"`` ON <-> OFF."""
    eb.check(batch, sensor)
    size = {"x": sensor.width, "y": sensor.height, "p": 2}[field]
    out = batch.events.copy()
    chosen = _chosen(batch, which)
    out[field][chosen] = size - 1 - out[field][chosen]
    return eb.Batch(out, batch.offsets)


def reverse_time_batch(batch: eb.Batch, sensor: ev.Sensor, which: np.ndarray | None = None, *,
                       flip_polarities: bool = True) -> eb.Batch:
    """The samples ``which`` picks (all when None) played backwards, as ``reverse_time``."""
    eb.check(batch, sensor)
    chosen, owner = _chosen(batch, which), batch.owners()
    ends = batch.offsets[1:] - 1
    order = np.arange(len(batch.events))
    order[chosen] = (batch.offsets[:-1] + ends)[owner[chosen]] - order[chosen]  # i -> start + end - i
    out = batch.events[order]
    out["t"][chosen] = batch.events["t"][ends[owner[chosen]]] - out["t"][chosen]
    if flip_polarities:
        out["p"][chosen] = 1 - out["p"][chosen]
    return eb.Batch(out, batch.offsets)


def time_jitter_batch(batch: eb.Batch, sensor: ev.Sensor, std_us: float,
                      generator: np.random.Generator) -> eb.Batch:
    """Every event moved in time as ``time_jitter`` moves them, each sample re-sorted on its own."""
    eb.check(batch, sensor)
    if not std_us >= 0:
        raise InvalidValue(f"std_us must be >= 0, got {std_us!r}")
    out = batch.events.copy()
    out["t"] = out["t"] + np.rint(generator.normal(0.0, std_us, out.size)).astype(np.int64)
    # By sample, then by time, stably: one int64 key sorts 4x faster than lexsort's two (times within 2^40 us).
    out = out[np.argsort((batch.owners() << 41) + (out["t"] + (1 << 40)), kind="stable")]
    return eb.keep(eb.Batch(out, batch.offsets), out["t"] >= 0)


def shift_batch(batch: eb.Batch, sensor: ev.Sensor, max_shift: int, generator: np.random.Generator) -> eb.Batch:
    """Each sample moved by its own offset, as ``shift`` moves one."""
    if not (isinstance(max_shift, (int, np.integer)) and max_shift >= 0):
        raise InvalidValue(f"max_shift must be whole pixels >= 0, got {max_shift!r}")
    eb.check(batch, sensor)
    offset = generator.integers(-max_shift, max_shift + 1, (len(batch), 2))[batch.owners()]
    x = batch.events["x"].astype(np.int64) + offset[:, 0]
    y = batch.events["y"].astype(np.int64) + offset[:, 1]
    out = batch.events.copy()
    out["x"], out["y"] = x, y  # wrapped where off the sensor; those events go next
    return eb.keep(eb.Batch(out, batch.offsets), (x >= 0) & (x < sensor.width) & (y >= 0) & (y < sensor.height))


def drop_batch(batch: eb.Batch, sensor: ev.Sensor, fraction: float, generator: np.random.Generator) -> eb.Batch:
    """Each sample without ``round(fraction * n)`` of its ``n`` events, as ``drop``."""
    eb.check(batch, sensor)
    if not 0 <= fraction <= 1:
        raise InvalidValue(f"fraction must be in [0, 1], got {fraction!r}")
    owner = batch.owners()
    order = np.argsort(owner + generator.random(len(batch.events)))  # each sample's events in a random order
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = batch.firsts()  # the sorted order keeps the samples in place: position - start is the rank
    gone = (fraction * batch.sizes() + 0.5).astype(np.int64)
    return eb.keep(batch, rank >= gone[owner])


def _chosen(batch: eb.Batch, which: np.ndarray | None) -> np.ndarray:
    """Which events belong to the samples ``which`` picks (all when None), bool ``[len(events)]``."""
    if which is None:
        return np.ones(len(batch.events), dtype=bool)
    which = np.asarray(which, dtype=bool)
    if which.shape != (len(batch),):
        raise InvalidValue(f"which picks samples of a batch of {len(batch)}: a bool array of that length, got "
                           f"shape {which.shape}")
    return which[batch.owners()]
