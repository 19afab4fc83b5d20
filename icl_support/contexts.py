"""Context builders: which rows (or images) represent each class.

All take embeddings ``Z`` (n, F) float and labels ``y`` (n,) int and return indices into them.

``random_per_class``  k random rows of each class (seeded).
``centroid``          per class, the row nearest (L2, raw embeddings) to the class mean, as LGM's code
                      (``k`` > 1: the k nearest rows).
``neighbors``         per synthetic row, the most cosine-similar real row of its class (a control:
                      does distillation only retrieve a real image?).
"""

from __future__ import annotations

import numpy as np

from .tables import check_rows


def random_per_class(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Indices of ``k`` random rows per class (sorted by class), without replacement."""
    rng = np.random.default_rng(seed)
    out = []
    for c in np.unique(y):
        pool = np.flatnonzero(y == c)
        if len(pool) < k:
            raise ValueError(f"class {c} has {len(pool)} rows, fewer than k={k}")
        out.append(rng.choice(pool, size=k, replace=False))
    return np.concatenate(out)


def centroid(Z: np.ndarray, y: np.ndarray, k: int = 1) -> np.ndarray:
    """Per class (in label order), the indices of the ``k`` rows closest in L2 to the class-mean embedding,
    nearest first (ties: lower index first). Shape (C * k,)."""
    Z, y = np.asarray(Z), np.asarray(y)
    check_rows(Z, y, "centroid: embeddings")
    out = []
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        d = np.linalg.norm(Z[rows] - Z[rows].mean(0), axis=1)
        out.append(rows[np.argsort(d, kind="stable")[:k]])
    return np.concatenate(out)


def neighbors(Z_real: np.ndarray, y_real: np.ndarray, Z_syn: np.ndarray, y_syn: np.ndarray) -> np.ndarray:
    """For each synthetic row, the index of the most cosine-similar real row of the same class."""
    Z_real, y_real, Z_syn, y_syn = map(np.asarray, (Z_real, y_real, Z_syn, y_syn))
    check_rows(Z_real, y_real, "neighbors: real embeddings")
    check_rows(Z_syn, y_syn, "neighbors: synthetic embeddings")
    if Z_real.shape[1] != Z_syn.shape[1]:
        raise ValueError(f"neighbors: real rows have {Z_real.shape[1]} features, synthetic rows {Z_syn.shape[1]}")
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True).clip(1e-12)  # noqa: E731
    R, S = unit(Z_real), unit(Z_syn)
    out = []
    for s, c in zip(S, y_syn, strict=True):
        rows = np.flatnonzero(y_real == c)
        if not len(rows):
            raise ValueError(f"no real rows of class {c}")
        out.append(rows[np.argmax(R[rows] @ s)])
    return np.asarray(out)
