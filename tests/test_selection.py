"""Context selectors at k rows per class."""

import numpy as np
import pytest
from conftest import blobs

from icl_support.contexts import selection
from icl_support.contexts.strategies import list_strategies
from icl_support.contexts.strategies import select_rows as select


@pytest.fixture(scope="module")
def pool():
    return blobs(n_per_class=40, n_classes=4, dim=6, seed=3)


@pytest.mark.parametrize(
    "name", [n for n in list_strategies(row_level=True) if n not in ("full", "row_lgm", "tabicl_lgm")]
)
@pytest.mark.parametrize("k", [1, 3])
def test_shapes_labels_and_provenance(pool, name, k):
    Z, y = pool
    ctx = select(name, Z, y, k, seed=0)
    assert ctx.X.shape == (4 * k, 6) and ctx.X.dtype == np.float32
    assert np.array_equal(ctx.y, np.repeat(np.arange(4), k))
    if name == "class_mean":
        assert ctx.index is None
    else:  # real rows: distinct, of the right class, and X is exactly those rows
        assert len(set(ctx.index.tolist())) == 4 * k
        assert np.array_equal(y[ctx.index], ctx.y) and np.array_equal(Z[ctx.index], ctx.X)


def test_definitions(pool):
    Z, y = pool
    rows0 = np.flatnonzero(y == 0)
    mean0 = Z[rows0].mean(0)
    np.testing.assert_allclose(select("class_mean", Z, y, 1).X[0], mean0, rtol=1e-6)
    d = np.linalg.norm(Z[rows0] - mean0, axis=1)
    assert set(select("nearest_centroid", Z, y, 3).index[:3]) == set(rows0[np.argsort(d)[:3]])
    # herding's running mean approaches the class mean at least as well as the nearest-centroid rows
    herd = select("herding", Z, y, 5).X[:5].mean(0)
    near = select("nearest_centroid", Z, y, 5).X[:5].mean(0)
    assert np.linalg.norm(herd - mean0) <= np.linalg.norm(near - mean0) + 1e-9
    # k-center: starts at the centroid row, then each pick is the row farthest from those chosen before
    kc = select("kcenter", Z, y, 5).index[:5]
    assert kc[0] == rows0[np.argmin(d)]
    for j in range(1, 5):
        gap = np.linalg.norm(Z[rows0][:, None] - Z[kc[:j]][None], axis=2).min(1)
        assert np.isclose(gap.max(), np.linalg.norm(Z[kc[j]] - Z[kc[:j]], axis=1).min())
    assert len(select("full", Z, y, 1).y) == len(y)


def test_seeded_strategies_are_deterministic(pool):
    Z, y = pool
    for name in ("random", "kmeans_medoids", "class_mean"):
        a, b = select(name, Z, y, 3, seed=1), select(name, Z, y, 3, seed=1)
        np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(select("random", Z, y, 3, seed=1).index, select("random", Z, y, 3, seed=2).index)


def test_bad_input(pool):
    Z, y = pool
    with pytest.raises(ValueError, match="unknown strategy 'best'; valid: random, class_mean"):
        select("best", Z, y, 1)
    with pytest.raises(ValueError, match="fewer rows"):
        select("herding", Z, y, 41)
    with pytest.raises(ValueError, match="k .* must be an int >= 1"):
        select("random", Z, y, 0)
    bad = Z.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN/inf"):
        select("kcenter", bad, y, 1)
    with pytest.raises(ValueError, match=r"need Z \(n, F\)"):
        selection.nearest_centroid(Z[:, 0], y, 1)
