"""The differentiable TabICL path (icl_support.model.torch_path) and TabICL-aware distillation (tabicl_distill).

RANDOM WEIGHTS: timing only. TabICL here has random weights, so nothing below is an accuracy: the
tests check that the torch path computes the same function as the sklearn wrapper, that gradients
reach the rows, and that optimising through it lowers its own loss.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import blobs

from icl_support.contexts.selection import centroid
from icl_support.contexts.tabicl_lgm import TabICLDistillConfig, distill_tabicl, initial_rows
from icl_support.model.torch_path import TorchTabICL, apply_context_stats, fit_context_stats
from icl_support.model.weights import RANDOM_BANNER, make_tabicl

CONST_COL = 3


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def net(random_weights):
    return TorchTabICL(random_weights)


def table(n_classes, dtype, seed=0, n_ctx=48, n_query=12, n_features=8):
    """Context with a constant column and outliers, queries with an outlier; labels not 0..C-1."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_ctx, n_features))
    y = np.concatenate([np.arange(n_classes), rng.integers(0, n_classes, n_ctx - n_classes)]) * 3 + 7
    X[:, CONST_COL] = 2.5
    X[5, 0], X[7, 1] = 40.0, -30.0  # beyond mean +- 4 std: first-stage outliers
    Xq = rng.normal(size=(n_query, n_features))
    Xq[0, 2], Xq[1, 4] = 100.0, -60.0  # far outside the context bounds: soft log clipping
    return X.astype(dtype), y.astype(np.int64), Xq.astype(dtype)


def test_preprocessing_and_probabilities_match_wrapper_float64(net, random_weights):
    X, y, Xq = table(5, np.float64)
    clf = make_tabicl(random_weights, 1, "cpu", seed=0).fit(X, y)
    gen = clf.ensemble_generator_
    assert list(gen.preprocessors_) == ["none"]  # n_estimators=1: norm "none", identity shuffles
    assert gen.feature_shuffles_["none"] == [list(range(X.shape[1] - 1))]
    assert gen.class_shuffles_["none"] == [list(range(5))]
    ((Xs, ys),) = gen.transform(Xq, mode="both").values()

    X_all = torch.tensor(np.concatenate([X, Xq]))
    stats = fit_context_stats(torch.tensor(X))
    mine = apply_context_stats(X_all, stats)
    assert not bool(stats.keep[CONST_COL]) and int(stats.keep.sum()) == X.shape[1] - 1
    # both paths compute in float64 here; only summation order differs
    torch.testing.assert_close(mine, torch.from_numpy(Xs[0]), rtol=1e-12, atol=1e-12)
    # the outlier bounds bit: the soft clip changed the outlier entries of the z-scores
    z = (X_all[:, stats.keep] - stats.mean) / stats.scale
    assert int((z - mine).abs().gt(1e-3).sum()) >= 3

    # train mode (the gradient path) gives exactly the eval logits on the wrapper's own table
    with torch.no_grad():
        X32, y32 = torch.from_numpy(Xs).float(), torch.from_numpy(ys).float()
        eval_logits = clf.model_(X32, y32, inference_config=clf.inference_config_)[0]
        train_logits = net.model(X32, y32)[0, :, :5]
        assert torch.equal(eval_logits, train_logits)
        proba = net.predict_proba(torch.tensor(X), torch.tensor(y), torch.tensor(Xq)).numpy()
    # the only difference left: the wrapper's numpy float32 softmax + renormalisation vs torch's
    # softmax, a few float32 ulps (measured 3e-8)
    np.testing.assert_allclose(proba, clf.predict_proba(Xq), rtol=0, atol=2e-7)


def test_probabilities_match_wrapper_float32_ten_classes(net, random_weights):
    X, y, Xq = table(10, np.float32, seed=1)
    clf = make_tabicl(random_weights, 1, "cpu", seed=0).fit(X, y)
    with torch.no_grad():
        proba = net.predict_proba(torch.tensor(X), torch.tensor(y), torch.tensor(Xq)).numpy()
    assert proba.shape == (len(Xq), 10)
    # float32 input: numpy's pairwise float32 mean/std and torch's reductions round differently,
    # ~2e-7 on the preprocessed table, ~4e-7 on logits, ~1e-7 on probabilities (measured)
    np.testing.assert_allclose(proba, clf.predict_proba(Xq), rtol=0, atol=1e-6)


def test_gradients_reach_context_and_query_rows(net):
    X, y, Xq = table(4, np.float32, seed=2)
    Xc, Xqt = torch.tensor(X, requires_grad=True), torch.tensor(Xq, requires_grad=True)
    _, codes = torch.unique(torch.tensor(y), return_inverse=True)
    logits = net(Xc, torch.tensor(y), Xqt)
    F.cross_entropy(logits / net.softmax_temperature, codes[: len(Xq)]).backward()
    for g in (Xc.grad, Xqt.grad):
        assert torch.isfinite(g).all()
    kept = [j for j in range(X.shape[1]) if j != CONST_COL]
    assert (Xc.grad[:, kept].abs().sum(0) > 0).all()  # every kept feature gets a gradient
    assert (Xc.grad.abs().sum(1) > 0).float().mean() > 0.9  # and (almost) every context row
    assert (Xc.grad[:, CONST_COL] == 0).all()  # the dropped constant column cannot
    assert all(p.grad is None and not p.requires_grad for p in net.parameters())


def test_rejects_bad_input(net):
    X, y, Xq = (torch.tensor(a) for a in table(3, np.float32))
    y11 = torch.arange(len(X)) % 11
    with pytest.raises(ValueError, match="11 classes.*at most 10"):
        net(X, y11, Xq)
    X_nan = X.clone()
    X_nan[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        net(X_nan, y, Xq)
    with pytest.raises(ValueError, match="features"):
        net(X, y, Xq[:, :5])
    with pytest.raises(ValueError, match="rows"):
        net(X, y[:-1], Xq)
    with pytest.raises(ValueError, match="integer"):
        net(X, y.float(), Xq)


def pool():
    return blobs(6, 3, 8, sep=1.0, seed=0)  # 18 rows: every step's query batch is the whole pool


def test_distill_loss_falls(net):
    Z, y = pool()
    cfg = TabICLDistillConfig(ipc=1, steps=12, lr=0.3, query_batch=64, init="centroid", seed=0)
    res = distill_tabicl(net, Z, y, 3, cfg, progress=False)
    assert res.rows.shape == (3, 8) and res.rows.dtype == np.float32
    assert res.labels.tolist() == [0, 1, 2] and res.losses.shape == (12,)
    assert res.weights_label == RANDOM_BANNER and res.seconds_per_step > 0
    assert np.isfinite(res.losses).all()
    assert res.losses[-3:].mean() < res.losses[:3].mean()

    def loss(rows):  # recomputed independently of the logged losses
        with torch.no_grad():
            logits = net(torch.tensor(rows), torch.tensor(res.labels), torch.tensor(Z))
            return float(F.cross_entropy(logits / net.softmax_temperature, torch.tensor(y)))

    init = initial_rows(torch.tensor(Z), torch.tensor(y), 3, 1, "centroid", torch.Generator()).numpy()
    assert loss(res.rows) < loss(init)
    assert np.isclose(loss(init), res.losses[0], rtol=1e-5)


def test_distill_moves_every_row_and_is_deterministic(net):
    Z, y = pool()
    cfg = TabICLDistillConfig(ipc=2, steps=2, lr=0.05, query_batch=8, init="random", seed=3)
    a = distill_tabicl(net, Z, y, 3, cfg, progress=False)
    b = distill_tabicl(net, Z, y, 3, cfg, progress=False)
    assert np.array_equal(a.rows, b.rows) and np.array_equal(a.losses, b.losses)
    init = initial_rows(torch.tensor(Z), torch.tensor(y), 3, 2, "random", torch.Generator().manual_seed(3)).numpy()
    assert (a.rows != init).all()  # Adam moved every entry: every row got a gradient
    assert a.labels.tolist() == [0, 0, 1, 1, 2, 2]
    c = distill_tabicl(net, Z, y, 3, TabICLDistillConfig(ipc=2, steps=2, lr=0.05, query_batch=8, init="random", seed=4))
    assert not np.array_equal(a.rows, c.rows)


def test_centroid_init_matches_contexts_centroid():
    Z, y = blobs(20, 4, 8, sep=1.0, seed=7)
    rows = initial_rows(torch.tensor(Z), torch.tensor(y), 4, 1, "centroid", torch.Generator()).numpy()
    np.testing.assert_array_equal(rows, Z[centroid(Z, y)])
    two = initial_rows(torch.tensor(Z), torch.tensor(y), 4, 2, "centroid", torch.Generator()).numpy()
    np.testing.assert_array_equal(two[::2], rows)  # the nearest row first, then the next nearest
    assert not np.array_equal(two[1::2], rows)


def test_distill_rejects_bad_input(net):
    Z, y = pool()
    cfg = TabICLDistillConfig(ipc=1, steps=1)
    with pytest.raises(ValueError, match="ipc must be >= 1"):
        TabICLDistillConfig(ipc=0)
    with pytest.raises(ValueError, match="init must be one of"):
        TabICLDistillConfig(init="kmeans")
    with pytest.raises(ValueError, match="lr must be > 0"):
        TabICLDistillConfig(lr=0.0)
    Z_nan = Z.copy()
    Z_nan[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        distill_tabicl(net, Z_nan, y, 3, cfg, progress=False)
    with pytest.raises(ValueError, match="need pool"):
        distill_tabicl(net, Z[:, :, None], y, 3, cfg, progress=False)
    with pytest.raises(ValueError, match="need pool"):
        distill_tabicl(net, Z, y[:-1], 3, cfg, progress=False)
    with pytest.raises(ValueError, match="labels must lie"):
        distill_tabicl(net, Z, y, 2, cfg, progress=False)
    with pytest.raises(ValueError, match="fewer than ipc=7"):
        distill_tabicl(net, Z, y, 3, TabICLDistillConfig(ipc=7, steps=1), progress=False)
    with pytest.raises(ValueError, match="n_classes must be in"):
        distill_tabicl(net, Z, y, 11, cfg, progress=False)
