"""Shared fixtures. Tests never reach the network: hub downloads are switched off here."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import torch

from icl_support.embedding.backbones import create_backbone
from icl_support.embedding.frozen import FrozenFeatures
from icl_support.embedding.tables import EmbeddingTable
from icl_support.model.weights import resolve_weights


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


@pytest.fixture(scope="session")
def features():
    """The offline backbone at 16 px, frozen: for tiny LGM runs."""
    return FrozenFeatures(create_backbone("efficientnet_lite0", image_size=16))


@pytest.fixture(scope="session")
def reals():
    """12 real 16-px images of 3 classes (class = dominant colour) and their labels."""
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(3).repeat_interleave(4)
    base = torch.tensor([[0.9, 0.1, 0.1], [0.1, 0.9, 0.1], [0.1, 0.1, 0.9]])[labels]
    return (base.view(-1, 3, 1, 1) + 0.1 * torch.randn(12, 3, 16, 16, generator=g)).clamp(0, 1), labels


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread: on the shared 2-core machine, 2 OpenMP threads spin-wait and cost ~10x the CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
