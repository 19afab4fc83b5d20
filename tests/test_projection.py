import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from conftest import blobs
from sklearn.decomposition import PCA

from icl_support.contexts.selection import random_per_class
from icl_support.evaluation.peers import make_peer
from icl_support.evaluation.plots import save_figure
from icl_support.evaluation.projection import ProjectionConfig, decision_plane, plot_projection

CFG = ProjectionConfig(grid=40)


@pytest.fixture(scope="module")
def setup():
    Z_pool, y_pool = blobs(30, 3, 8, seed=0)
    Z_test, y_test = blobs(12, 3, 8, seed=0)
    Z_test = Z_test + np.random.default_rng(1).normal(size=Z_test.shape).astype(np.float32)  # fresh noise
    idx = random_per_class(y_pool, 2, seed=0)
    proj = decision_plane(
        Z_pool, Z_pool[idx], y_pool[idx], Z_test, make_peer("nearest_mean"), y_test=y_test, config=CFG
    )
    return Z_pool, y_pool, Z_test, y_test, idx, proj


def test_shapes_and_grid(setup):
    Z_pool, _, Z_test, y_test, idx, proj = setup
    assert proj.regions.shape == (CFG.grid, CFG.grid) and proj.grid_x.shape == proj.grid_y.shape == (CFG.grid,)
    assert proj.context_2d.shape == (len(idx), 2) and proj.test_2d.shape == (len(Z_test), 2)
    assert proj.pred_test.shape == proj.plane_pred_test.shape == y_test.shape
    pts = np.concatenate([proj.context_2d, proj.test_2d])
    assert np.all(pts.min(0) >= [proj.grid_x[0], proj.grid_y[0]])
    assert np.all(pts.max(0) <= [proj.grid_x[-1], proj.grid_y[-1]])
    assert proj.explained_variance.shape == (2,) and 0 < proj.explained_variance.sum() <= 1


def test_regions_cover_the_classes_and_match_the_full_space_classifier(setup):
    Z_pool, y_pool, Z_test, _, idx, proj = setup
    assert set(np.unique(proj.regions)) == {0, 1, 2} == set(proj.classes)
    # independent check of one lattice point: lift it back by hand and classify by nearest context mean
    pca = PCA(2, random_state=CFG.seed).fit(Z_pool)
    means = np.stack([Z_pool[idx][y_pool[idx] == c].mean(0) for c in proj.classes])
    i, j = 7, 31
    z = pca.mean_ + np.array([proj.grid_x[j], proj.grid_y[i]]) @ pca.components_
    assert proj.regions[i, j] == proj.classes[np.argmin(np.linalg.norm(means - z, axis=1))]


def test_agreement_is_full_space_vs_plane(setup):
    Z_pool, y_pool, Z_test, _, idx, proj = setup
    pca = PCA(2, random_state=CFG.seed).fit(Z_pool)
    means = np.stack([Z_pool[idx][y_pool[idx] == c].mean(0) for c in proj.classes])
    nearest = lambda Z: proj.classes[np.argmin(((Z[:, None] - means) ** 2).sum(-1), 1)]  # noqa: E731
    plane = nearest(pca.inverse_transform(pca.transform(Z_test)))
    assert np.array_equal(proj.pred_test, nearest(Z_test)) and np.array_equal(proj.plane_pred_test, plane)
    assert proj.agreement == pytest.approx(np.mean(nearest(Z_test) == plane))


def test_figure_is_made_and_saved(setup, tmp_path):
    proj = setup[-1]
    fig = plot_projection(proj, class_names=("a", "b", "c"), title="blobs")
    ax = fig.axes[0]
    assert len(ax.images) == 1 and len(ax.collections) == 1 + len(proj.classes)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["test rows", "a", "b", "c"]
    paths = save_figure(fig, "projection", tmp_path)
    assert paths["png"].stat().st_size > 0
    plt.close(fig)
    with pytest.raises(ValueError, match="class_names has 2 names"):
        plot_projection(proj, class_names=("a", "b"))
    plt.close("all")


def test_bad_input():
    X, y = blobs(5, 2, 4)
    clf = make_peer("nearest_mean")
    with pytest.raises(ValueError, match="Z_test must be"):
        decision_plane(X, X, y, X[:, :3], clf)
    with pytest.raises(ValueError, match="y_context has 3 labels"):
        decision_plane(X, X, y[:3], X, clf)
    with pytest.raises(ValueError, match="grid >= 2"):
        decision_plane(X, X, y, X, clf, config=ProjectionConfig(grid=1))
