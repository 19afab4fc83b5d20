"""Where context rows fall relative to their class: the diagnostics of why some rows make poor contexts.

For context rows ``X`` (n, F) with labels ``y`` among real pool rows ``Z`` (N, F) with labels ``y_pool``,
per context row (all distances Euclidean, in the space given):

``to_own_mean``        distance to its class's mean, in units of the class's median real-row distance to it
                       (1 = as central as a typical real image of the class, < 1 more central)
``nearest_real``       distance to the nearest real row of its class, in the same units
``norm_ratio``         its norm over the median norm of its class's real rows
``own_mean_nearest``   whether its class's mean is the nearest of all class means (1) or not (0)

:func:`standardise_by_context` gives the space TabICL reads: every column z-scored with the context rows'
own mean and standard deviation (as ``TabICLClassifier``'s preprocessing does), applied to pool rows too.
"""

from __future__ import annotations

import numpy as np

from ..core.device import check_rows

MEASURES = ("to_own_mean", "nearest_real", "norm_ratio", "own_mean_nearest")


def row_geometry(X: np.ndarray, y: np.ndarray, Z: np.ndarray, y_pool: np.ndarray) -> dict[str, np.ndarray]:
    """``{measure: (n,) array}`` for every context row (see the module docstring)."""
    X, y, Z, y_pool = map(np.asarray, (X, y, Z, y_pool))
    check_rows(X, y, "row_geometry: context rows")
    check_rows(Z, y_pool, "row_geometry: pool rows")
    classes = np.unique(y_pool)
    means = np.stack([Z[y_pool == c].mean(0) for c in classes])
    out = {m: np.empty(len(X)) for m in MEASURES}
    for i, (x, c) in enumerate(zip(X, y, strict=True)):
        own = Z[y_pool == c]
        mean = means[np.searchsorted(classes, c)]
        scale = np.median(np.linalg.norm(own - mean, axis=1))
        out["to_own_mean"][i] = np.linalg.norm(x - mean) / scale
        out["nearest_real"][i] = np.linalg.norm(own - x, axis=1).min() / scale
        out["norm_ratio"][i] = np.linalg.norm(x) / np.median(np.linalg.norm(own, axis=1))
        out["own_mean_nearest"][i] = float(classes[np.argmin(np.linalg.norm(means - x, axis=1))] == c)
    return out


def standardise_by_context(X: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """``[X, *others]`` z-scored column by column with the context rows ``X``'s mean and std (ddof 0, +1e-6)."""
    mean, std = X.mean(0), X.std(0) + 1e-6
    return [(A - mean) / std for A in (X, *others)]


def summarise_geometry(geometry: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean of each measure over the context rows."""
    return {m: float(np.mean(v)) for m, v in geometry.items()}
