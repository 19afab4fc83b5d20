import numpy as np
import pytest
import torch
from conftest import blobs

from icl_support.contexts.selection import centroid, neighbors, random_per_class
from icl_support.evaluation.probe import linear_probe


def test_random_per_class():
    y = np.repeat(np.arange(3), 5)
    idx = random_per_class(y, 2, seed=0)
    assert list(np.bincount(y[idx])) == [2, 2, 2] and len(set(idx)) == 6
    assert np.array_equal(idx, random_per_class(y, 2, seed=0))
    with pytest.raises(ValueError, match="fewer than k=6"):
        random_per_class(y, 6, 0)


def test_centroid_picks_the_row_nearest_the_class_mean():
    Z = np.array([[0.0], [1.0], [10.0], [2.0], [5.0], [6.0], [7.0]])
    y = np.array([0, 0, 0, 0, 1, 1, 1])
    assert list(centroid(Z, y)) == [3, 5]  # class 0 mean 3.25 -> 2.0; class 1 mean 6 -> 6.0


def test_neighbors_stay_in_class_and_use_cosine():
    Z_real = np.array([[1.0, 0.0], [10.0, 1.0], [0.0, 1.0], [1.0, 1.0]])
    y_real = np.array([0, 0, 1, 1])
    Z_syn = np.array([[5.0, 0.1], [1.0, 0.9]])
    assert list(neighbors(Z_real, y_real, Z_syn, np.array([0, 1]))) == [0, 3]


def test_linear_probe_learns_separable_classes():
    X, y = blobs(10, 3, 6, seed=3)
    bank = torch.from_numpy(X)[:, None, :].repeat(1, 4, 1)  # 4 identical "views"
    accs = linear_probe(bank, y, X, y, epochs=300, seeds=[0, 1])
    assert len(accs) == 2 and min(accs) > 0.9


def test_linear_probe_seeds_trained_together_equal_each_alone():
    """Batching the seeds' heads changes nothing per seed: own initial head, own draws, own Adam moments."""
    X, y = blobs(6, 3, 5, seed=4)
    Xt, yt = blobs(20, 3, 5, seed=5, sep=1.0)  # overlapping classes: accuracies that differ between seeds
    bank = torch.from_numpy(X)[:, None, :] + 0.5 * torch.randn(len(y), 3, 5, generator=torch.Generator().manual_seed(0))
    together = linear_probe(bank, y, Xt, yt, epochs=40, seeds=[0, 1, 7])
    alone = [linear_probe(bank, y, Xt, yt, epochs=40, seeds=[s])[0] for s in (0, 1, 7)]
    assert together == alone and len(set(together)) > 1
