"""Digits drawn the way a mouse draws them: a stroke path per digit, rendered like the play page's canvas.

Not MNIST's writers: the skeletons below are our own, and each rendering varies them as hands do (size,
place, slant, rotation, stroke width, wobble). They measure how a network does on digits drawn on the play
page (``spikevision play``), and the browser tests draw them with mouse events.

Coordinates are in a unit box, x to the right and y down, as on a canvas. A digit is a list of strokes, a
stroke a list of points.

Example::

    >>> pictures, labels = drawn.digit_set(per_class=20, seed=0)   # uint8 [200, 280, 280], int64 [200]
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

CANVAS = 280       # the play page's drawing canvas, in pixels (square)
LINE_WIDTH = 18    # its pen's width, in pixels

Point = tuple[float, float]
Stroke = list[Point]


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, n: int = 24) -> Stroke:
    """Points of an elliptic arc from ``start`` to ``end`` degrees (0 = right, 90 = down)."""
    return [(cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
            for a in np.linspace(start, end, n)]


# Two ways of writing each digit, as people do (a 1 with or without its flag, a 7 with or without its bar...).
SKELETONS: dict[int, list[list[Stroke]]] = {
    0: [[_arc(0.5, 0.5, 0.3, 0.42, -90, 275, 40)],
        [_arc(0.5, 0.5, 0.25, 0.45, -100, 265, 40)]],
    1: [[[(0.5, 0.08), (0.5, 0.92)]],
        [[(0.32, 0.25), (0.55, 0.08), (0.55, 0.92)]]],
    2: [[_arc(0.5, 0.32, 0.27, 0.24, 190, 370) + [(0.22, 0.9), (0.8, 0.9)]],
        [_arc(0.48, 0.3, 0.25, 0.22, 200, 380) + [(0.3, 0.75), (0.2, 0.9), (0.82, 0.88)]]],
    3: [[_arc(0.48, 0.29, 0.25, 0.21, 200, 450) + _arc(0.48, 0.7, 0.29, 0.22, -90, 160)],
        [[(0.25, 0.1), (0.75, 0.1), (0.45, 0.45)] + _arc(0.47, 0.68, 0.3, 0.23, -90, 160)]],
    4: [[[(0.62, 0.08), (0.2, 0.62), (0.82, 0.62)], [(0.62, 0.3), (0.62, 0.92)]],
        [[(0.25, 0.08), (0.22, 0.55), (0.8, 0.55)], [(0.68, 0.1), (0.68, 0.92)]]],
    5: [[[(0.78, 0.1), (0.3, 0.1), (0.27, 0.45)] + _arc(0.5, 0.65, 0.28, 0.25, -130, 150)],
        [[(0.3, 0.1), (0.27, 0.45)] + _arc(0.5, 0.65, 0.28, 0.25, -130, 150), [(0.3, 0.1), (0.78, 0.1)]]],
    6: [[[(0.68, 0.08), (0.35, 0.4)] + _arc(0.5, 0.68, 0.27, 0.24, 200, 560)],
        [_arc(0.62, 0.45, 0.4, 0.38, -80, -180, 12) + _arc(0.48, 0.68, 0.25, 0.23, 180, 540)]],
    7: [[[(0.2, 0.1), (0.8, 0.1), (0.42, 0.92)]],
        [[(0.2, 0.12), (0.8, 0.1), (0.45, 0.92)], [(0.35, 0.5), (0.72, 0.5)]]],
    8: [[_arc(0.5, 0.28, 0.22, 0.2, 90, 450) + _arc(0.5, 0.7, 0.27, 0.22, -90, 270)],
        [[(0.5, 0.5)] + _arc(0.5, 0.29, 0.2, 0.21, 90, -270) + _arc(0.5, 0.71, 0.26, 0.21, -90, 270)]],
    9: [[_arc(0.48, 0.3, 0.25, 0.22, 0, 360) + [(0.73, 0.3), (0.7, 0.92)]],
        [_arc(0.46, 0.3, 0.24, 0.22, -20, 340) + [(0.69, 0.25), (0.45, 0.92)]]],
}


def strokes(digit: int, rng: np.random.Generator, *, size: int = CANVAS) -> list[Stroke]:
    """One hand's ``digit``: a skeleton varied in size, place, slant, rotation and wobble, in canvas pixels."""
    skeleton = SKELETONS[digit][int(rng.integers(len(SKELETONS[digit])))]
    extent = rng.uniform(0.45, 0.8) * size  # the digit's height on the canvas
    aspect = rng.uniform(0.75, 1.15)
    slant = rng.uniform(-0.3, 0.15)          # x shifts by slant * (0.5 - y): most hands lean right
    turn = math.radians(rng.uniform(-10, 10))
    cx = size / 2 + rng.uniform(-0.12, 0.12) * size
    cy = size / 2 + rng.uniform(-0.1, 0.1) * size
    wobble = rng.uniform(0.0, 0.025)
    phase = rng.uniform(0, 2 * math.pi, 2)
    out = []
    for stroke in skeleton:
        points = []
        for i, (x, y) in enumerate(stroke):
            x, y = x - 0.5 + slant * (0.5 - y), y - 0.5
            x, y = x + wobble * math.sin(i * 0.7 + phase[0]), y + wobble * math.sin(i * 0.5 + phase[1])
            x, y = x * math.cos(turn) - y * math.sin(turn), x * math.sin(turn) + y * math.cos(turn)
            points.append((cx + x * extent * aspect, cy + y * extent))
        out.append(points)
    return out


def render(strokes_px: list[Stroke], *, size: int = CANVAS, width: float = LINE_WIDTH) -> np.ndarray:
    """uint8 ``[size, size]`` white strokes on black, round caps and joins as the page's pen draws them."""
    img = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(img)
    r = width / 2
    for stroke in strokes_px:
        if len(stroke) > 1:
            draw.line(stroke, fill=255, width=max(1, round(width)), joint="curve")
        for x, y in (stroke[0], stroke[-1]):
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(img)


def digit_set(per_class: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` drawn pictures of every digit: uint8 ``[10 * per_class, 280, 280]`` and int64 labels."""
    rng = np.random.default_rng(seed)
    pictures, labels = [], []
    for _ in range(per_class):
        for digit in range(10):
            width = rng.uniform(0.6, 1.6) * LINE_WIDTH
            pictures.append(render(strokes(digit, rng), width=width))
            labels.append(digit)
    return np.stack(pictures), np.asarray(labels, dtype=np.int64)
