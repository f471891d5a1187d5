"""The errors spikevision raises on purpose, under one base: each message says what was wrong and what to do.

``SpikevisionError`` is the base; the command line catches it (and ``OSError``) and prints one line, so
anything else, a bug, keeps its traceback. The subclasses are also the builtin they stand for, so code that
catches ``ValueError``, ``TypeError`` or ``FileNotFoundError`` keeps working::

    SpikevisionError
    ├── InvalidValue (ValueError)         a value out of range, an unknown name, a file that is not what it claims
    │   └── TrainingDiverged              the loss or the weights became NaN or infinite
    ├── InvalidType (TypeError)           a value of the wrong kind (a bool where a count belongs, ...)
    └── NotFound (FileNotFoundError)      a run directory, dataset or file that is not there

An error may also carry ``reason``, a short stable key for what went wrong, and ``values``, the numbers and names
its message holds, so that a caller can word the refusal itself: the play page in the reader's language. The
message stays the error's meaning everywhere else.

Warnings: ``SpikevisionWarning`` (``DataWarning``: a damaged data file moved aside), one "note:" line each.

``train.TrainingInterrupted`` (Ctrl-C with a checkpoint saved) is a ``KeyboardInterrupt`` instead, so that
code which does not know it stops as on any Ctrl-C.
"""

from __future__ import annotations


class SpikevisionError(Exception):
    """Base of every error spikevision raises on purpose."""

    def __init__(self, *args: object, reason: str | None = None, **values: object) -> None:
        super().__init__(*args)
        self.reason = reason
        self.values = values


class InvalidValue(SpikevisionError, ValueError):
    """A value out of its range, an unknown name or a file that is not what it claims to be."""


class InvalidType(SpikevisionError, TypeError):
    """A value of the wrong type."""


class NotFound(SpikevisionError, FileNotFoundError):
    """A run directory, dataset or file that does not exist."""


class TrainingDiverged(InvalidValue):
    """The loss or the weights became NaN or infinite; the last good checkpoint is kept."""


class SpikevisionWarning(UserWarning):
    """Something a person should know that did not stop the work; the command line prints it as one note."""


class DataWarning(SpikevisionWarning):
    """A data file failed its checksum or size and was moved aside."""
