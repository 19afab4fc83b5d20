"""From settings to the table TabICL reads: embedded train pool and test rows, optionally PCA'd.

The train pool and the test set are class-balanced subsets drawn with ``settings.seed``; PCA (when
``settings.pca_dim > 0``) is fitted on the whole train pool, never on a context alone, so every
context drawn from the pool lives in the same feature space. Usage::

    table = build_table(resolve_settings("demo"))
    table.X_train.shape        # (n_pool, pca_dim)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA

from ..core.config import Settings
from ..core.device import check_rows, resolve_device
from ..data.datasets import ImageDataset, balanced_subset, load_dataset
from .backbones import create_backbone
from .embed import embed_images


@dataclass(frozen=True)
class EmbeddingTable:
    """Rows ``X_*`` float32 ``(n, d)`` and labels ``y_*`` int64 ``(n,)``; ``d = pca_dim`` or ``raw_dim``."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    raw_dim: int
    pca_dim: int  # 0 = no reduction
    backbone_weights: str
    explained_variance: float  # fraction of the pool's variance kept by PCA (1.0 without PCA)


@dataclass(frozen=True)
class WidthReducer:
    """The rows every evaluator reads: ``reducer(Z)`` maps embeddings (n, F) to (n, pca_dim) float32 with one
    PCA fitted on the whole train pool (``pca`` is ``None`` and the map the identity when ``pca_dim == 0``)."""

    pca: PCA | None

    def __call__(self, Z: np.ndarray) -> np.ndarray:
        return self.pca.transform(Z).astype(np.float32) if self.pca is not None else Z


def fit_width_reducer(X_pool: np.ndarray, pca_dim: int, seed: int) -> WidthReducer:
    """PCA to ``pca_dim`` fitted on ``X_pool`` (all of it); the identity when ``pca_dim == 0``."""
    if pca_dim == 0:
        return WidthReducer(None)
    if pca_dim > min(X_pool.shape):
        raise ValueError(f"pca_dim={pca_dim} exceeds min(rows, features)={min(X_pool.shape)} of the train pool")
    return WidthReducer(PCA(n_components=pca_dim, random_state=seed).fit(X_pool))


def reduce_width(X_pool: np.ndarray, others: list[np.ndarray], pca_dim: int, seed: int):
    """PCA fitted on ``X_pool`` (all of it) applied to pool and ``others``; identity when ``pca_dim == 0``.

    Returns ``(X_pool_r, [others_r...], explained_variance_fraction)``.
    """
    reduce = fit_width_reducer(X_pool, pca_dim, seed)
    if reduce.pca is None:
        return X_pool, others, 1.0
    return reduce(X_pool), [reduce(o) for o in others], float(reduce.pca.explained_variance_ratio_.sum())


def load_splits(settings: Settings) -> tuple[ImageDataset, ImageDataset, np.ndarray, np.ndarray]:
    """The train and test splits of ``settings.dataset`` and the class-balanced indices of the train
    pool (``n_train``) and test set (``n_test``) drawn with ``settings.seed``."""
    train, test = (
        load_dataset(settings.dataset, split, settings.data_root, settings.cache_path) for split in ("train", "test")
    )
    if train.classes != test.classes:
        raise ValueError(f"{settings.dataset}: train classes {train.classes} differ from test classes {test.classes}")
    idx_train = balanced_subset(train.targets, settings.n_train, settings.seed)
    idx_test = balanced_subset(test.targets, settings.n_test, settings.seed)
    return train, test, idx_train, idx_test


def build_table(settings: Settings, progress: bool = True) -> EmbeddingTable:
    """Embed the train pool and the test set described by ``settings`` (cached) and reduce width."""
    cache = settings.cache_path
    train, test, idx_train, idx_test = load_splits(settings)
    backbone = create_backbone(settings.backbone, settings.image_size, resolve_device(settings.device))
    kw = dict(backbone=backbone, cache_dir=cache, batch_size=settings.embed_batch_size, progress=progress)
    Z_train = embed_images(train, idx_train, **kw)
    Z_test = embed_images(test, idx_test, **kw)
    y_train, y_test = train.targets[idx_train], test.targets[idx_test]
    check_rows(Z_train, y_train, "train embeddings")
    check_rows(Z_test, y_test, "test embeddings")
    X_train, (X_test,), kept = reduce_width(Z_train, [Z_test], settings.pca_dim, settings.seed)
    return EmbeddingTable(
        X_train, y_train, X_test, y_test, train.classes, Z_train.shape[1], settings.pca_dim, backbone.weights, kept
    )
