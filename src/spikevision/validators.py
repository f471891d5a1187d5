"""Checks of user-given values that several modules share, each raising a one-line ``InvalidValue``."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from spikevision.errors import InvalidValue


def is_whole_number(value: Any) -> bool:
    """An ``int`` that is not a ``bool`` (to Python ``True`` is 1; ``epochs = true`` is a mistake, not 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_choice(name: str, value: Any, valid: tuple) -> None:
    """``value`` is one of ``valid``; otherwise the error lists them."""
    if value not in valid:
        raise InvalidValue(f"{name} must be one of {', '.join(valid)}; got {value!r}")


def check_number(name: str, value: Any, ok: Callable[[float], bool], rule: str) -> None:
    """A finite real number (not a bool, not a string) for which ``ok(value)`` holds; ``rule`` says it in words."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not ok(value):
        raise InvalidValue(f"{name} must be {rule}, got {value!r}")


def check_whole_number(name: str, value: Any, minimum: int) -> None:
    """A whole number ``>= minimum``."""
    if not is_whole_number(value) or value < minimum:
        raise InvalidValue(f"{name} must be a whole number >= {minimum}, got {value!r}")
