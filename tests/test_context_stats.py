"""context_stats: TabICL's preprocessing fitted on the context rows (as shipped) or on the unlabelled pool."""

import numpy as np
import pytest
import torch
from tabicl._sklearn.preprocessing import PreprocessingPipeline

from icl_support.model.context_stats import fit_tabicl
from icl_support.model.torch_path import TorchTabICL
from icl_support.model.weights import make_tabicl

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def pool_and_context(seed=0, n_pool=300, n_features=6, n_classes=4):
    """A pool whose columns have very different scales and offsets; a context of one row per class."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n_pool)
    centres = rng.normal(size=(n_classes, n_features)) * 2
    X = (centres[y] + rng.normal(size=(n_pool, n_features))) * rng.uniform(0.1, 50, n_features) + 10
    idx = np.array([np.flatnonzero(y == c)[0] for c in range(n_classes)])
    X_test = (centres[y[:40]] + rng.normal(size=(40, n_features))) * 1.0
    return X, y, idx, X_test


def test_context_reproduces_the_wrapper_exactly(random_weights):
    X, y, idx, X_test = pool_and_context()
    plain = make_tabicl(random_weights, 2, "cpu", seed=0).fit(X[idx], y[idx])
    ours = fit_tabicl(make_tabicl(random_weights, 2, "cpu", seed=0), X[idx], y[idx], context_stats="context")
    np.testing.assert_array_equal(ours.predict_proba(X_test), plain.predict_proba(X_test))


@pytest.mark.parametrize("n_estimators", [1, 2])
def test_pool_context_rows_are_the_pool_fitted_transform(random_weights, n_estimators):
    X, y, idx, X_test = pool_and_context(seed=1)
    clf = fit_tabicl(
        make_tabicl(random_weights, n_estimators, "cpu", seed=0), X[idx], y[idx], context_stats="pool", X_pool=X
    )
    gen = clf.ensemble_generator_
    for method, (Xs, _) in gen.transform(X=None, mode="train").items():
        expected = PreprocessingPipeline(normalization_method=method).fit(X).transform(X[idx])
        for shuffle, Xv in zip(gen.feature_shuffles_[method], Xs, strict=True):
            np.testing.assert_allclose(Xv, expected[:, shuffle], rtol=1e-6, atol=1e-6)
    # and the model's input really changed: the context-fitted transform differs
    plain = make_tabicl(random_weights, n_estimators, "cpu", seed=0).fit(X[idx], y[idx])
    assert not np.allclose(clf.predict_proba(X_test), plain.predict_proba(X_test))


def test_torch_path_matches_the_wrapper_with_pool_stats(random_weights):
    X, y, idx, X_test = pool_and_context(seed=2)
    clf = fit_tabicl(make_tabicl(random_weights, 1, "cpu", seed=0), X[idx], y[idx], context_stats="pool", X_pool=X)
    net = TorchTabICL(random_weights)
    t = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
    with torch.no_grad():
        proba = net.predict_proba(t(X[idx]), torch.tensor(y[idx]), t(X_test), X_pool=t(X)).numpy()
    np.testing.assert_allclose(proba, clf.predict_proba(X_test), rtol=0, atol=2e-6)


def test_bad_choices_are_named(random_weights):
    X, y, idx, _ = pool_and_context()
    with pytest.raises(ValueError, match="unknown context_stats 'pools'; valid: context, pool"):
        fit_tabicl(make_tabicl(random_weights), X[idx], y[idx], context_stats="pools", X_pool=X)
    with pytest.raises(ValueError, match="needs the pool rows"):
        fit_tabicl(make_tabicl(random_weights), X[idx], y[idx], context_stats="pool")
    with pytest.raises(ValueError, match="X_pool must be"):
        fit_tabicl(make_tabicl(random_weights), X[idx], y[idx], context_stats="pool", X_pool=X[:, :3])
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fit_tabicl(make_tabicl(random_weights), X[idx], y[idx], context_stats="pool", X_pool=bad)
