"""End to end on a tiny digits problem: images, LGM, four strategies, four evaluators."""

import numpy as np
import pytest

from icl_support.chapters.one_per_class import ONE_PER_CLASS_EVALUATORS, ONE_PER_CLASS_STRATEGIES, evaluate_strategies
from icl_support.contexts.lgm_images import distilled_images
from icl_support.core.config import resolve_settings
from icl_support.embedding.image_pool import prepare_images


@pytest.fixture(scope="module")
def tiny(cache_dir):
    s = resolve_settings("smoke", n_train=60, n_test=40, random_draws=2, cache_dir=str(cache_dir))
    return s, prepare_images(s, progress=False)


def test_images_and_embeddings(tiny):
    s, data = tiny
    assert data.pool.shape == (60, 3, 32, 32) and 0 <= data.pool.min() and data.pool.max() <= 1
    assert data.Z_pool.shape == (60, 1280) and data.Z_test.shape == (40, 1280)


def test_distilled_images_are_cached(tiny, monkeypatch):
    s, data = tiny
    first = distilled_images(s, data, progress=False)
    assert first["images"].shape == (10, 3, 32, 32) and first["losses"].shape == (s.distill_steps,)
    import icl_support.contexts.lgm_images as lgm_images

    monkeypatch.setattr(lgm_images, "distill", lambda *a, **k: pytest.fail("cache hit must not distill again"))
    assert np.array_equal(distilled_images(s, data, progress=False)["images"], first["images"])


def test_every_strategy_and_evaluator(tiny, random_weights):
    """Every score is the one a direct sklearn / TabICL call on the same rows gives (the scorer adds nothing)."""
    import torch
    from sklearn.neighbors import KNeighborsClassifier

    from icl_support.contexts.selection import centroid, random_per_class
    from icl_support.evaluation.peers import make_peer
    from icl_support.evaluation.run import Run
    from icl_support.model.weights import make_tabicl

    s, data = tiny
    run = Run(s, random_weights, torch.device("cpu"), random_weights)
    out = evaluate_strategies(run, data, progress=False)
    assert set(out) == set(ONE_PER_CLASS_STRATEGIES) and all(
        set(out[n]) >= set(ONE_PER_CLASS_EVALUATORS) for n in ONE_PER_CLASS_STRATEGIES
    )
    assert out["random"]["one_nn"]["n"] == 2 and out["centroid"]["linear_probe"]["n"] == s.probe_seeds
    for d, acc in enumerate(out["random"]["per_context"]["nearest_mean"]):  # raw rows, draws seeded s.seed + d
        idx = random_per_class(data.y_pool, 1, s.seed + d)
        assert acc == make_peer("nearest_mean").fit(data.Z_pool[idx], data.y_pool[idx]).score(data.Z_test, data.y_test)
    idx = centroid(data.Z_pool, data.y_pool)
    one_nn = KNeighborsClassifier(1).fit(data.Z_pool[idx], data.y_pool[idx]).score(data.Z_test, data.y_test)
    assert out["centroid"]["one_nn"]["mean"] == one_nn
    from icl_support.embedding.tables import fit_width_reducer

    reduce = fit_width_reducer(data.Z_pool, s.pca_dim, s.seed)  # TabICL reads PCA rows
    clf = make_tabicl(random_weights, 1, "cpu", s.seed).fit(reduce(data.Z_pool[idx]), data.y_pool[idx])
    assert out["centroid"]["tabicl"]["mean"] == float((clf.predict(reduce(data.Z_test)) == data.y_test).mean())


def test_split_mode_off_or_too_many_classes_drops_only_the_split_evaluator(tiny, random_weights):
    """``split_mode=False`` (or more classes than the checkpoint's max_classes) scores every other evaluator; the
    tables, figures and glued values of chapter 4 follow what was scored; a non-bool split_mode is refused."""
    import torch

    from icl_support.chapters.one_per_class import glued_numbers, histogram_figure, summary_table
    from icl_support.contexts.sweep import split_mode_fits
    from icl_support.core.config import with_overrides
    from icl_support.evaluation.run import Run

    s, data = tiny
    off = with_overrides(s, split_mode=False)
    run = Run(off, random_weights, torch.device("cpu"), random_weights)
    out = evaluate_strategies(run, data, progress=False)
    assert "tabicl_split" not in out["random"] and "tabicl_pool" in out["random"]
    assert "tabicl_split" not in "".join(summary_table(out, random_weights).columns)
    assert len(histogram_figure(out, random_weights).axes) == len(ONE_PER_CLASS_EVALUATORS) - 1
    assert np.isnan(glued_numbers(out)["random_tabicl_split_adequacy"])
    on = Run(s, random_weights, torch.device("cpu"), random_weights)
    assert split_mode_fits(on, 10) and not split_mode_fits(on, 11) and not split_mode_fits(run, 10)
    with pytest.raises(TypeError, match="split_mode"):
        with_overrides(s, split_mode="yes")
