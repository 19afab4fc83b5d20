"""A generated image set with more classes than TabICL's native 10: ``shapes20``.

20 classes = 5 shapes (disc, square, triangle, cross, ring) x 4 colours (red, green, blue, yellow),
drawn with PIL at a random position, size and rotation on a noisy grey background. Fully
deterministic given the split (train seed 0, test seed 1), offline, and small: it exists to exercise
the many-class paths (TabICL's hierarchical scheme, the selectors, the peers) without a download.
Usage::

    images, labels, classes = make_shapes(n_per_class=30, seed=0)   # (600, 32, 32, 3) uint8, (600,) int64
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("disc", "square", "triangle", "cross", "ring")
COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (50, 80, 230), "yellow": (230, 210, 40)}
CLASSES = tuple(f"{c}-{s}" for s in SHAPES for c in COLOURS)


def _draw(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, angle: float, fill) -> None:
    if shape == "disc":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "ring":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=fill, width=max(2, int(r / 3)))
    elif shape in ("square", "triangle"):
        n = 4 if shape == "square" else 3
        pts = [
            (cx + r * np.cos(angle + 2 * np.pi * j / n), cy + r * np.sin(angle + 2 * np.pi * j / n)) for j in range(n)
        ]
        draw.polygon(pts, fill=fill)
    elif shape == "cross":
        w = max(2, int(r / 2.5))
        for a in (angle, angle + np.pi / 2):
            dx, dy = r * np.cos(a), r * np.sin(a)
            draw.line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=fill, width=w)


def make_shapes(n_per_class: int, seed: int, side: int = 32) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """``n_per_class`` images of each of the 20 classes: (20 * n, side, side, 3) uint8, labels (20 * n,) int64."""
    if n_per_class < 1 or side < 8:
        raise ValueError(f"need n_per_class >= 1 and side >= 8, got {n_per_class} and {side}")
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(CLASSES)), n_per_class)
    images = np.empty((len(labels), side, side, 3), np.uint8)
    for i, y in enumerate(labels):
        colour, shape = CLASSES[y].split("-")
        bg = rng.normal(128, 25, (side, side, 3)).clip(0, 255).astype(np.uint8)
        im = Image.fromarray(bg)
        r = side * rng.uniform(0.18, 0.32)
        cx, cy = rng.uniform(r, side - r, size=2)
        fill = tuple(int(v) for v in np.clip(np.array(COLOURS[colour]) + rng.normal(0, 15, 3), 0, 255))
        _draw(ImageDraw.Draw(im), shape, cx, cy, r, rng.uniform(0, 2 * np.pi), fill)
        images[i] = np.asarray(im)
    return images, labels.astype(np.int64), CLASSES


def write_shapes_folder(root, n_train: int = 6, n_test: int = 4, side: int = 32):
    """Write ``root/{train,test}/<class>/<i>.png`` (the ``folder`` dataset's layout); returns ``root``."""
    from pathlib import Path

    root = Path(root)
    for split, n, seed in (("train", n_train, 0), ("test", n_test, 1)):
        images, labels, classes = make_shapes(n, seed, side)
        for i, (im, y) in enumerate(zip(images, labels, strict=True)):
            folder = root / split / classes[y]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(im).save(folder / f"{i}.png")
    return root
