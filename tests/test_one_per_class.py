"""End to end on a tiny digits problem: images, LGM, four strategies, four evaluators."""

import numpy as np
import pytest

from icl_support.config import resolve_settings
from icl_support.one_per_class import EVALUATORS, STRATEGIES, distilled_images, evaluate_strategies, prepare_images


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
    import icl_support.one_per_class as opc

    monkeypatch.setattr(opc, "distill", lambda *a, **k: pytest.fail("cache hit must not distill again"))
    assert np.array_equal(distilled_images(s, data, progress=False)["images"], first["images"])


def test_every_strategy_and_evaluator(tiny, random_weights):
    s, data = tiny
    lgm = distilled_images(s, data, progress=False)
    out = evaluate_strategies(s, data, lgm, random_weights, progress=False)
    assert set(out) == set(STRATEGIES)
    for name in STRATEGIES:
        for ev in EVALUATORS:
            assert 0 <= out[name][ev]["mean"] <= 1
    assert out["random"]["one_nn"]["n"] == 2 and out["centroid"]["linear_probe"]["n"] == s.probe_seeds
