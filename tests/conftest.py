"""Shared fixtures. Tests never reach the network: hub downloads are switched off here."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest

from icl_support.tabicl_model import resolve_weights
from icl_support.tables import EmbeddingTable


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    """One cache for the session, so the random TabICL checkpoint and embeddings are built once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def random_weights(cache_dir):
    return resolve_weights("random", cache_dir, seed=0)


def blobs(n_per_class=30, n_classes=3, dim=8, sep=4.0, seed=0):
    """Well-separated Gaussian blobs: (X float32 (n, dim), y int64 (n,))."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, dim)) * sep
    y = np.repeat(np.arange(n_classes), n_per_class)
    X = (centres[y] + rng.normal(size=(len(y), dim))).astype(np.float32)
    return X, y.astype(np.int64)


@pytest.fixture
def blob_table():
    X, y = blobs(40, 3, 8, seed=1)
    Xt, yt = blobs(10, 3, 8, seed=1)  # same centres (same seed), fresh noise is not needed for plumbing
    return EmbeddingTable(
        X, y, Xt, yt, ("a", "b", "c"), raw_dim=8, pca_dim=0, backbone_weights="none", explained_variance=1.0
    )
