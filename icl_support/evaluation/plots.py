"""Figure helpers: save every figure as PNG and PDF, and stamp random-weight figures.

Usage::

    fig, ax = plt.subplots()
    stamp_weights(fig, weights)                 # banner for random weights, a small label otherwise
    paths = save_figure(fig, "ch1-accuracy", settings.figures_path)
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from ..model.weights import RANDOM_BANNER, TabICLWeights


def save_figure(fig: plt.Figure, name: str, directory: str | Path) -> dict[str, Path]:
    """Write ``<directory>/<name>.png`` (150 dpi) and ``.pdf``; returns both paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {ext: directory / f"{name}.{ext}" for ext in ("png", "pdf")}
    for ext, path in paths.items():
        fig.savefig(path, dpi=150 if ext == "png" else None, bbox_inches="tight")
    return paths


def save_images(images: np.ndarray, names: list[str], directory: str | Path) -> Path:
    """Write each image (N, 3, H, W) in [0, 1] as ``<directory>/<index>_<name>.png`` (8-bit RGB)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for i, (image, name) in enumerate(zip(images, names, strict=True)):
        pixels = (np.clip(image.transpose(1, 2, 0), 0, 1) * 255).round().astype(np.uint8)
        Image.fromarray(pixels).save(directory / f"{i:03d}_{name}.png")
    return directory


def stamp_weights(fig: plt.Figure, weights: TabICLWeights) -> None:
    """Name TabICL's weights on ``fig``: the random-weights banner across the top in red when they are
    random, else a small grey line at the bottom (``released``, TabICL-mini, or a local file)."""
    if weights.is_random:
        fig.text(
            0.5,
            1.0,
            RANDOM_BANNER + " (TabICL accuracy here is chance)",
            ha="center",
            va="bottom",
            color="crimson",
            fontsize=12,
            fontweight="bold",
        )
    else:
        fig.text(0.99, -0.01, weights.label, ha="right", va="top", color="0.35", fontsize=7)
