"""ContextSampler / ContextClassifier: every row-level strategy through scikit-learn's conventions, retrieval
contexts, the estimator checks, and clear errors on bad input."""

import numpy as np
import pytest
import torch
from conftest import blobs
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from icl_support import ContextClassifier, ContextSampler, list_strategies
from icl_support.contexts.strategies import STRATEGIES, select_rows
from icl_support.model.weights import make_tabicl, resolve_weights

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ROW_LEVEL = ["random", "class_mean", "nearest_centroid", "kmeans_medoids", "herding", "kcenter", "row_lgm"]
FAST = {"row_lgm": {"steps": 5}, "tabicl_lgm": {"steps": 3}}


def string_blobs(n_per_class=12, n_classes=3, seed=0):
    X, y = blobs(n_per_class, n_classes, dim=6, seed=seed)
    return X, np.array(["cat", "dog", "eel", "fox"])[y]


@pytest.fixture(scope="module")
def mini():
    return make_tabicl(resolve_weights("mini", "."), n_estimators=1)


@pytest.mark.parametrize("strategy", ROW_LEVEL)
def test_every_row_level_strategy_resamples_any_labels(strategy):
    X, y = string_blobs()
    sampler = ContextSampler(strategy, per_class=2, random_state=1, options=FAST.get(strategy))
    X_ctx, y_ctx = sampler.fit_resample(X, y)
    assert X_ctx.shape == (6, X.shape[1]) and sorted(y_ctx.tolist()) == ["cat"] * 2 + ["dog"] * 2 + ["eel"] * 2
    assert list(sampler.classes_) == ["cat", "dog", "eel"]
    real = STRATEGIES[strategy].real_images
    if real:  # the rows are training rows, named by index
        np.testing.assert_array_equal(X[sampler.sample_indices_], X_ctx)
        np.testing.assert_array_equal(y[sampler.sample_indices_], y_ctx)
    else:
        assert sampler.sample_indices_ is None
    again = clone(sampler).fit_resample(X, y)  # deterministic given random_state, options carried by clone
    np.testing.assert_array_equal(again[0], X_ctx)


def test_the_registry_is_the_one_list_of_strategies():
    assert list_strategies("k*") == ["kmeans_medoids", "kcenter"]
    assert set(ROW_LEVEL + ["tabicl_lgm", "full"]) == set(list_strategies(row_level=True))
    assert "pixel_lgm" in list_strategies() and "pixel_lgm" not in list_strategies(row_level=True)
    # a strategy reached through the registry by name gives what the selection function gives
    X, y = blobs(20, 3)
    from icl_support.contexts import selection

    np.testing.assert_array_equal(select_rows("herding", X, y, 3).index, selection.herding(X, y, 3).index)


def test_tabicl_lgm_needs_an_estimator_and_distils_through_it(mini):
    X, y = string_blobs()
    with pytest.raises(ValueError, match="needs estimator="):
        ContextSampler("tabicl_lgm", per_class=1, options={"steps": 2}).fit_resample(X, y)
    X_ctx, y_ctx = ContextSampler("tabicl_lgm", per_class=1, estimator=mini, options={"steps": 2}).fit_resample(X, y)
    assert X_ctx.shape == (3, X.shape[1]) and list(y_ctx) == ["cat", "dog", "eel"]
    X11, y11 = blobs(4, 11, dim=4)
    with pytest.raises(ValueError, match="at most 10 classes"):
        ContextSampler("tabicl_lgm", per_class=1, estimator=mini, options={"steps": 2}).fit_resample(X11, y11)


@pytest.mark.parametrize("context_stats", ["context", "pool"])
def test_context_classifier_with_tabicl_reads_only_the_context(mini, context_stats):
    X, y = string_blobs(20)
    clf = ContextClassifier(mini, ContextSampler("kcenter", per_class=3), context_stats=context_stats).fit(X, y)
    X_ctx, y_ctx = clf.context_
    assert clf.estimator_.n_samples_in_ == len(y_ctx) == 9 and list(clf.classes_) == ["cat", "dog", "eel"]
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3) and np.allclose(proba.sum(1), 1)
    assert (clf.predict(X) == y).mean() > 0.8  # well-separated blobs: a real learner, not chance


def test_context_classifier_with_a_scikit_learn_classifier():
    X, y = string_blobs(20)
    clf = ContextClassifier(LogisticRegression(), ContextSampler("class_mean", per_class=1)).fit(X, y)
    assert (clf.predict(X) == y).mean() > 0.9
    with pytest.raises(ValueError, match="refits TabICL's own preprocessing"):
        ContextClassifier(LogisticRegression(), ContextSampler(), context_stats="pool").fit(X, y)


@pytest.mark.parametrize("per_class, n_neighbors", [(2, None), (None, 5)])
def test_retrieval_gives_each_test_row_its_own_neighbours(mini, per_class, n_neighbors):
    X, y = string_blobs(15)
    sampler = ContextSampler("retrieval", per_class=per_class, n_neighbors=n_neighbors)
    clf = ContextClassifier(mini, sampler).fit(X, y)
    idx = clf.estimator_.neighbours(X[:4])
    assert idx.shape == (4, 6 if per_class else 5)
    if per_class:  # per class: each class contributes its own nearest rows
        assert all(sorted(y[row].tolist()) == ["cat"] * 2 + ["dog"] * 2 + ["eel"] * 2 for row in idx)
    else:  # overall: the nearest rows are the test row itself first (it is a training row)
        np.testing.assert_array_equal(idx[:, 0], np.arange(4))
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert (clf.predict(X) == y).mean() > 0.8
    with pytest.raises(ValueError, match="no fit_resample"):
        sampler.fit_resample(X, y)


def test_retrieval_batches_equal_one_table_at_a_time(mini):
    """The batched forward gives each test row what TabICL's one-table path gives on its own context."""
    from icl_support.model.torch_path import TorchTabICL

    X, y = blobs(15, 3, dim=5)
    clf = ContextClassifier(mini, ContextSampler("retrieval", per_class=3)).fit(X, y)
    net = TorchTabICL(mini.model_path)
    idx = clf.estimator_.neighbours(X[:3])
    for b in range(3):
        with torch.no_grad():
            one = net.predict_proba(torch.tensor(X[idx[b]]), torch.tensor(y[idx[b]]), torch.tensor(X[b : b + 1]))
        np.testing.assert_allclose(clf.predict_proba(X[b : b + 1])[0], one[0].numpy(), atol=1e-5)


def test_bad_input_is_named():
    X, y = string_blobs()
    with pytest.raises(ValueError, match="per_class=20 rows per class, but class"):
        ContextSampler("kcenter", per_class=20).fit_resample(X, y)
    y1 = y.copy()
    y1[0] = "gnu"
    with pytest.raises(ValueError, match=r"\['gnu'\] have one sample"):
        ContextSampler("kcenter", per_class=1).fit_resample(X, y1)
    bad = X.copy()
    bad[4, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or inf in 1 row"):
        ContextSampler("herding").fit_resample(bad, y)
    with pytest.raises(ValueError, match="unknown or non-row-level strategy 'kcentre'; valid: random, class_mean"):
        ContextSampler("kcentre").fit_resample(X, y)
    with pytest.raises(ValueError, match="unknown option"):
        ContextSampler("herding", per_class=2, options={"steps": 3}).fit_resample(X, y)
    with pytest.raises(ValueError, match="options must be a dict"):
        ContextSampler("row_lgm", options=["steps", 3]).fit(X, y)
    with pytest.raises(ValueError, match="per_class must be an int >= 1"):
        ContextSampler("random", per_class=0).fit_resample(X, y)
    with pytest.raises(ValueError, match="NaN"):
        ContextClassifier(LogisticRegression(), ContextSampler("random", per_class=2)).fit(bad, y)


@parametrize_with_checks(
    [
        ContextClassifier(LogisticRegression(max_iter=200), ContextSampler("random", per_class=1)),
        ContextClassifier(LogisticRegression(max_iter=200), ContextSampler("kcenter", per_class=2)),
        ContextClassifier(KNeighborsClassifier(1), ContextSampler("class_mean", per_class=1)),
        ContextSampler("random", per_class=1),
        ContextSampler("kcenter", per_class=1, options={}),
    ]
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
