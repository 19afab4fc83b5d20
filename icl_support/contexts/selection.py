"""Context selection at k rows per class: which embedding rows stand for each class.

Every selector takes the pool's embeddings ``Z`` (n, F) float and labels ``y`` (n,) int and returns a
:class:`Context`: the rows ``X`` (C * k, F) float32 in class order, their labels, and the pool indices
they came from (``None`` when the rows are not real images, as for ``class_mean``).

``random``            k random rows per class (seeded).
``class_mean``        the class mean itself (k = 1); k > 1: the k k-means centres of the class. Rows, not images.
``nearest_centroid``  the k rows nearest (L2) to the class mean (k = 1 is LGM's "centroid" baseline).
``kmeans_medoids``    per class k-means with k clusters; the real row nearest each centre.
``herding``           iCaRL's herding: greedily add the row that keeps the running mean closest to the class mean.
``kcenter``           k-center greedy (farthest-first traversal) inside the class, started at the centroid row.
``full``              every pool row (k ignored).

The functions are registered, with their descriptions, in the one strategy registry
(:mod:`icl_support.contexts.strategies`), which is where to look them up by name::

    ctx = select_rows("herding", Z_pool, y_pool, k=5, seed=0)   # icl_support.contexts.strategies
    clf.fit(ctx.X, ctx.y)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans

from ..core.device import check_rows


@dataclass(frozen=True)
class Context:
    """Context rows ``X`` (n, F) float32, labels ``y`` (n,) int64, pool ``index`` (n,) or ``None``."""

    X: np.ndarray
    y: np.ndarray
    index: np.ndarray | None


def _classes(Z: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Check the inputs; return the sorted class ids."""
    Z, y = np.asarray(Z), np.asarray(y)
    if Z.ndim != 2 or y.shape != (len(Z),):
        raise ValueError(f"need Z (n, F) and y (n,), got Z {Z.shape} and y {y.shape}")
    if not np.isfinite(Z).all():
        raise ValueError(f"Z has {int((~np.isfinite(Z)).sum())} NaN/inf entries; embeddings must be finite")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k (rows per class) must be an int >= 1, got {k!r}")
    classes, counts = np.unique(y, return_counts=True)
    small = {int(c): int(n) for c, n in zip(classes, counts, strict=True) if n < k}
    if small:
        raise ValueError(f"k={k} rows per class, but classes {small} (class: rows) have fewer rows than that")
    return classes


def check_per_class(Z: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """:func:`_classes` for strategies that make rows: the same checks and messages."""
    return _classes(Z, y, k)


def _from_index(Z: np.ndarray, y: np.ndarray, index: list[np.ndarray]) -> Context:
    idx = np.concatenate(index).astype(np.int64)
    return Context(np.asarray(Z, np.float32)[idx], np.asarray(y, np.int64)[idx], idx)


def random_rows(Z: np.ndarray, y: np.ndarray, k: int, seed: int = 0) -> Context:
    _classes(Z, y, k)
    return _from_index(Z, y, [random_per_class(y, k, seed)])


def _kmeans(Zc: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k-means centres (k, F) of one class's rows (k = 1: the mean)."""
    if k == 1:
        return Zc.mean(0, keepdims=True)
    return KMeans(k, n_init=3, random_state=seed).fit(Zc.astype(np.float64)).cluster_centers_


def class_mean(Z: np.ndarray, y: np.ndarray, k: int, seed: int = 0) -> Context:
    classes = _classes(Z, y, k)
    X = np.concatenate([_kmeans(Z[y == c], k, seed) for c in classes]).astype(np.float32)
    return Context(X, np.repeat(classes, k).astype(np.int64), None)


def nearest_centroid(Z: np.ndarray, y: np.ndarray, k: int, seed: int = 0) -> Context:
    _classes(Z, y, k)
    return _from_index(Z, y, [centroid(Z, y, k)])


def kmeans_medoids(Z: np.ndarray, y: np.ndarray, k: int, seed: int = 0) -> Context:
    out = []
    for c in _classes(Z, y, k):
        rows = np.flatnonzero(y == c)
        centres = _kmeans(Z[rows], k, seed)
        d = np.linalg.norm(Z[rows][:, None, :] - centres[None], axis=2)  # (n_c, k)
        chosen: list[int] = []
        for j in range(k):  # nearest unused row to each centre, so medoids are distinct
            order = np.argsort(d[:, j], kind="stable")
            chosen.append(next(int(i) for i in order if i not in chosen))
        out.append(rows[chosen])
    return _from_index(Z, y, out)


def herding(Z: np.ndarray, y: np.ndarray, k: int, seed: int = 0) -> Context:
    out = []
    for c in _classes(Z, y, k):
        rows = np.flatnonzero(y == c)
        Zc = Z[rows].astype(np.float64)
        mu, total, chosen = Zc.mean(0), np.zeros(Zc.shape[1]), []
        for t in range(1, k + 1):
            d = np.linalg.norm(mu - (total + Zc) / t, axis=1)
            d[chosen] = np.inf
            i = int(np.argmin(d))
            chosen.append(i)
            total += Zc[i]
        out.append(rows[chosen])
    return _from_index(Z, y, out)


def kcenter(Z: np.ndarray, y: np.ndarray, k: int, seed: int = 0) -> Context:
    out = []
    for c in _classes(Z, y, k):
        rows = np.flatnonzero(y == c)
        Zc = Z[rows].astype(np.float64)
        first = int(np.argmin(np.linalg.norm(Zc - Zc.mean(0), axis=1)))
        chosen, dist = [first], np.linalg.norm(Zc - Zc[first], axis=1)
        for _ in range(k - 1):
            i = int(np.argmax(dist))
            chosen.append(i)
            dist = np.minimum(dist, np.linalg.norm(Zc - Zc[i], axis=1))
        out.append(rows[chosen])
    return _from_index(Z, y, out)


def full(Z: np.ndarray, y: np.ndarray, k: int = 1, seed: int = 0) -> Context:
    classes = _classes(Z, y, 1)
    return _from_index(Z, y, [np.flatnonzero(y == c) for c in classes])


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
