"""Embedding-space LGM."""

import numpy as np
import pytest
import torch
from conftest import blobs

from icl_support.contexts.pixel_lgm import head_gradient, matching_loss
from icl_support.contexts.row_lgm import RowDistillConfig, distill_rows


def test_loss_falls_and_rows_land_near_their_class():
    Z, y = blobs(n_per_class=50, n_classes=3, dim=8, seed=0)
    r = distill_rows(Z, y, 3, RowDistillConfig(ipc=2, steps=150, lr=0.05, seed=0), progress=False)
    assert r.rows.shape == (6, 8) and r.rows.dtype == np.float32
    assert np.array_equal(r.labels, [0, 0, 1, 1, 2, 2])
    assert r.losses[-20:].mean() < 0.5 * r.losses[:20].mean()
    means = np.stack([Z[y == c].mean(0) for c in range(3)])
    nearest = np.linalg.norm(r.rows[:, None] - means[None], axis=2).argmin(1)
    assert np.array_equal(nearest, r.labels)


def test_objective_matches_pixel_lgm_gradient():
    """The loss is pixel LGM's objective: with the synthetic rows set to real rows' mean gradient match is high."""
    Z, y = blobs(n_per_class=50, n_classes=3, dim=8, seed=1)
    Zt, yt = torch.tensor(Z), torch.tensor(y)
    W = 0.01 * torch.randn(3, 8, generator=torch.Generator().manual_seed(0))
    b = torch.zeros(3)
    means = torch.stack([Zt[yt == c].mean(0) for c in range(3)])
    loss_means = matching_loss(head_gradient(Zt, yt, W, b), head_gradient(means, torch.arange(3), W, b))
    loss_swapped = matching_loss(head_gradient(Zt, yt, W, b), head_gradient(means, torch.tensor([1, 2, 0]), W, b))
    assert float(loss_means) < 0.05 < float(loss_swapped)


def test_deterministic_and_views():
    Z, y = blobs(n_per_class=20, n_classes=2, dim=4, seed=2)
    cfg = RowDistillConfig(ipc=1, steps=20, seed=5)
    a, b = distill_rows(Z, y, 2, cfg, progress=False), distill_rows(Z, y, 2, cfg, progress=False)
    np.testing.assert_array_equal(a.rows, b.rows)
    bank = np.stack([Z, Z + 0.1], axis=1)  # (M, A, F) augmented views
    assert distill_rows(bank, y, 2, cfg, progress=False).rows.shape == (2, 4)


def test_bad_input():
    Z, y = blobs(n_per_class=10, n_classes=2, dim=4)
    with pytest.raises(ValueError, match="ipc must be >= 1"):
        RowDistillConfig(ipc=0)
    with pytest.raises(ValueError, match="init must be"):
        RowDistillConfig(init="zeros")
    bad = Z.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN/inf"):
        distill_rows(bad, y, 2, RowDistillConfig(steps=1), progress=False)
    with pytest.raises(ValueError, match=r"classes \[2\] have no real rows"):
        distill_rows(Z, y, 3, RowDistillConfig(steps=1), progress=False)
    with pytest.raises(ValueError, match="need real"):
        distill_rows(Z, y[:5], 2, RowDistillConfig(steps=1), progress=False)
