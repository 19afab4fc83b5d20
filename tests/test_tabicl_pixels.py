"""TabICL-aware images: pixels optimised through the backbone, the PCA and TabICL-mini (smoke digits)."""

import numpy as np
import pytest
import torch

from icl_support.contexts.strategies import BuildInputs, build
from icl_support.contexts.tabicl_pixels import TabICLPixelConfig
from icl_support.core.config import resolve_settings
from icl_support.embedding.image_pool import prepare_images
from icl_support.embedding.tables import fit_width_reducer
from icl_support.evaluation.run import resolve_run


@pytest.fixture(scope="module")
def inputs(cache_dir):
    s = resolve_settings("smoke", cache_dir=str(cache_dir), n_train=100, n_test=50, tabicl_distill_steps=4)
    run = resolve_run(s)
    data = prepare_images(s, progress=False)
    return BuildInputs(run, data, fit_width_reducer(data.Z_pool, s.pca_dim, s.seed).pca)


def test_images_start_at_the_centroid_images_and_move_down_tabicls_loss(inputs, monkeypatch):
    import icl_support.contexts.tabicl_pixels as tp

    built = build("tabicl_pixels", inputs, 1)
    (ctx,) = built.contexts
    assert built.images.shape == (10, 3, 32, 32) and 0 <= built.images.min() and built.images.max() <= 1
    assert ctx.X.shape == (10, 1280) and list(ctx.y) == list(range(10)) and ctx.index is None
    centroid = build("centroid", inputs, 1).contexts[0]
    start = inputs.data.pool[centroid.index].numpy()
    assert 0 < np.abs(built.images - start).max() < 0.5  # moved, but still the centroid images underneath
    # cached: a second build reads the images back instead of optimising again
    monkeypatch.setattr(tp, "distill_tabicl_pixels", lambda *a, **k: pytest.fail("cache hit must not optimise"))
    again = build("tabicl_pixels", inputs, 1)
    np.testing.assert_array_equal(again.images, built.images)


def test_resume_equals_uninterrupted(inputs, tmp_path):
    from icl_support.contexts.selection import centroid
    from icl_support.contexts.tabicl_pixels import distill_tabicl_pixels
    from icl_support.model.torch_path import TorchTabICL

    data, pca = inputs.data, inputs.pca
    idx = centroid(data.Z_pool, data.y_pool, 1)
    net = TorchTabICL(inputs.run.weights, "cpu")
    args, kw = (data.pool[idx], data.y_pool[idx]), dict(data=data, pca=pca, net=net, progress=False)
    cfg = TabICLPixelConfig(steps=4, checkpoint_every=2)
    whole = distill_tabicl_pixels(*args, config=cfg, work_dir=tmp_path / "a", **kw)
    distill_tabicl_pixels(*args, config=TabICLPixelConfig(steps=3, checkpoint_every=2), work_dir=tmp_path / "b", **kw)
    resumed = distill_tabicl_pixels(*args, config=cfg, work_dir=tmp_path / "b", **kw)  # picks up the step-2 checkpoint
    np.testing.assert_allclose(resumed.images, whole.images, atol=1e-6)
    np.testing.assert_allclose(resumed.losses, whole.losses, atol=1e-6)
    assert whole.losses.shape == (4,) and torch.isfinite(torch.from_numpy(whole.losses)).all()


def test_distill_seeds_give_independent_distillations_the_first_one_the_default(inputs):
    from icl_support.core.config import with_overrides

    run = inputs.run.with_settings(with_overrides(inputs.run.settings, distill_seeds=2))
    two = build("tabicl_pixels", BuildInputs(run, inputs.data, inputs.pca), 1)
    one = build("tabicl_pixels", inputs, 1)  # distill_seeds = 1: the run's seed alone, as before
    assert len(two.contexts) == 2 and len(one.contexts) == 1
    np.testing.assert_array_equal(two.image_sets[0], one.images)  # seed 0 is the same distillation (cache)
    assert np.abs(two.image_sets[1] - two.image_sets[0]).max() > 0  # seed 1 is another one
    first, second = two.context_images(0, inputs.data.pool), two.context_images(1, inputs.data.pool)
    assert torch.equal(second, torch.from_numpy(two.image_sets[1])) and not torch.equal(first, second)
    centroid = build("centroid", inputs, 1)
    assert torch.equal(centroid.context_images(0, inputs.data.pool), inputs.data.pool[centroid.contexts[0].index])


def test_images_for_the_learner_at_several_per_class(inputs):
    """TabICL-aware images and anchored LGM at ipc > 1: ipc images of every class, each one an image."""
    from icl_support.core.config import with_overrides

    built = build("tabicl_pixels_anchored", inputs, 3)
    (ctx,) = built.contexts
    assert built.images.shape == (30, 3, 32, 32) and np.bincount(ctx.y).tolist() == [3] * 10
    run = inputs.run.with_settings(with_overrides(inputs.run.settings, lgm_ipcs=[2], distill_steps=3, lgm_anchor=1.0))
    anchored = build("pixel_lgm_anchored", BuildInputs(run, inputs.data, inputs.pca), 2)
    assert anchored.images.shape == (20, 3, 32, 32) and np.bincount(anchored.contexts[0].y).tolist() == [2] * 10
