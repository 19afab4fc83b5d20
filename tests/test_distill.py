import numpy as np
import pytest
import torch

from icl_support.contexts.pixel_lgm import (
    DistillConfig,
    EmbeddingAnchor,
    PyramidImages,
    config_key,
    distill,
    head_gradient,
    matching_loss,
)
from icl_support.data.augment import augment

TINY = {"syn_res": 16, "crop_res": 16, "augs_per_step": 2, "grow_every": 5, "checkpoint_every": 3, "snapshot_res": 8}


def test_pyramid_decodes_to_unit_range_and_grows():
    p = PyramidImages(4, 16, generator=torch.Generator().manual_seed(0))
    assert p().shape == (4, 3, 16, 16) and p().min() >= 0 and p().max() <= 1
    sides = []
    while p.grow(torch.Generator().manual_seed(1)):
        sides.append(p.levels[-1].shape[-1])
    assert sides == [2, 4, 8, 16] and p.n_levels == 5


def test_augment_shapes_and_gradients_reach_pixels():
    x = torch.rand(5, 3, 16, 16, requires_grad=True)
    out = augment(x, 12, torch.Generator().manual_seed(0), 0.0, 0.2)
    assert out.shape == (5, 3, 12, 12)
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_closed_form_gradient_equals_autograd():
    g = torch.Generator().manual_seed(0)
    z, y = torch.randn(20, 7, generator=g), torch.randint(0, 4, (20,), generator=g)
    W = (0.01 * torch.randn(4, 7, generator=g)).requires_grad_()
    b = torch.zeros(4, requires_grad=True)
    torch.nn.functional.cross_entropy(z @ W.T + b, y).backward()
    expected = torch.cat([W.grad.flatten(), b.grad])
    torch.testing.assert_close(head_gradient(z, y, W.detach(), b.detach()), expected, rtol=1e-5, atol=1e-7)


def test_matching_loss_reaches_pixels(features):
    p = PyramidImages(3, 16, generator=torch.Generator().manual_seed(0))
    p.grow(torch.Generator().manual_seed(1))
    W, b = 0.01 * torch.randn(3, 1280), torch.zeros(3)
    g_syn = head_gradient(features(p()), torch.arange(3), W, b)
    loss = matching_loss(torch.randn_like(g_syn), g_syn)
    loss.backward()
    assert all(level.grad is not None and level.grad.abs().sum() > 0 for level in p.levels)


def test_loss_falls_and_backbone_is_untouched(features, reals):
    before = {k: v.clone() for k, v in features.model.state_dict().items()}
    cfg = DistillConfig(steps=40, lr=0.05, **TINY, seed=0)
    result = distill(*reals, 3, features, cfg, progress=False)
    assert all(torch.equal(v, features.model.state_dict()[k]) for k, v in before.items())
    assert result.images.shape == (3, 3, 16, 16) and result.images.min() >= 0 and result.images.max() <= 1
    assert list(result.labels) == [0, 1, 2]
    assert result.losses[-10:].mean() < result.losses[:10].mean()
    assert result.snapshots.shape[0] == 5 and result.snapshots.shape[2:] == (3, 8, 8)


def test_resume_equals_uninterrupted(features, reals, tmp_path):
    cfg = DistillConfig(steps=12, **TINY, seed=1)
    whole = distill(*reals, 3, features, cfg, work_dir=tmp_path / "a", progress=False)
    distill(*reals, 3, features, cfg, work_dir=tmp_path / "b", progress=False, stop_after=7)  # interrupted at 7
    resumed = distill(*reals, 3, features, cfg, work_dir=tmp_path / "b", progress=False)
    np.testing.assert_array_equal(resumed.images, whole.images)
    np.testing.assert_array_equal(resumed.losses, whole.losses)


def test_bad_inputs(features, reals):
    images, labels = reals
    with pytest.raises(ValueError, match="power of two"):
        DistillConfig(syn_res=24)
    with pytest.raises(ValueError, match="real_images must be"):
        distill(images[:, :, :8, :8], labels, 3, features, DistillConfig(**TINY), progress=False)
    with pytest.raises(ValueError, match=r"classes \[3\] have no real images"):
        distill(images, labels, 4, features, DistillConfig(**TINY), progress=False)


def test_save_images_as_png(tmp_path):
    from PIL import Image

    from icl_support.evaluation.plots import save_images

    images = np.random.default_rng(0).random((2, 3, 8, 8)).astype(np.float32)
    out = save_images(images, ["cat", "dog"], tmp_path)
    png = Image.open(out / "001_dog.png")
    assert png.size == (8, 8) and png.mode == "RGB"


def _anchor(features, reals):
    from icl_support.embedding.frozen import embed_tensors

    images, labels = reals
    return EmbeddingAnchor.from_rows(embed_tensors(features, images, 16), labels.numpy(), 16)


def _anchor_distance(features, anchor, result):
    from icl_support.embedding.frozen import embed_tensors

    z = torch.as_tensor(embed_tensors(features, torch.from_numpy(result.images), anchor.crop))
    return float(anchor.loss(z, torch.as_tensor(result.labels)))


def test_anchored_lgm_stays_nearer_its_class_means(features, reals):
    anchor = _anchor(features, reals)
    plain = distill(*reals, 3, features, DistillConfig(steps=30, lr=0.05, **TINY, seed=0), progress=False)
    pulled = distill(
        *reals, 3, features, DistillConfig(steps=30, lr=0.05, **TINY, seed=0, anchor=10.0), progress=False,
        anchor=anchor,
    )  # fmt: skip
    assert _anchor_distance(features, anchor, pulled) < 0.5 * _anchor_distance(features, anchor, plain)
    assert pulled.losses.shape == (30,) and np.isfinite(pulled.losses).all()  # the matching loss, as plain LGM's


def test_anchored_lgm_resumes_and_keeps_plain_keys(features, reals, tmp_path):
    anchor = _anchor(features, reals)
    cfg = DistillConfig(steps=8, **TINY, seed=1, anchor=2.0)
    whole = distill(*reals, 3, features, cfg, work_dir=tmp_path / "a", progress=False, anchor=anchor)
    distill(*reals, 3, features, cfg, work_dir=tmp_path / "b", progress=False, stop_after=5, anchor=anchor)
    resumed = distill(*reals, 3, features, cfg, work_dir=tmp_path / "b", progress=False, anchor=anchor)
    np.testing.assert_array_equal(resumed.images, whole.images)
    assert "anchor" not in config_key(DistillConfig()) and config_key(cfg)["anchor"] == 2.0


def test_distillation_seed_offsets_the_reference_seed_and_defaults_to_the_runs():
    from icl_support.contexts.configs import REFERENCE_SEED, pixel_lgm_config, tabicl_pixels_config
    from icl_support.core.config import resolve_settings

    s = resolve_settings("smoke", seed=4)
    assert pixel_lgm_config(s) == pixel_lgm_config(s, seed=4)  # the default keeps every cached distillation's key
    assert pixel_lgm_config(s, seed=5).seed == 5 + REFERENCE_SEED
    assert tabicl_pixels_config(s, 1).seed == 4 and tabicl_pixels_config(s, 1, seed=6).seed == 6


def test_anchored_lgm_bad_inputs(features, reals):
    with pytest.raises(ValueError, match="anchor must be >= 0"):
        DistillConfig(anchor=-1.0)
    with pytest.raises(ValueError, match="needs an EmbeddingAnchor"):
        distill(*reals, 3, features, DistillConfig(**TINY, anchor=1.0), progress=False)
    with pytest.raises(ValueError, match="one process only"):
        distill(
            *reals, 3, features, DistillConfig(**TINY, anchor=1.0), progress=False, parallel=object(),
            anchor=_anchor(features, reals),
        )  # fmt: skip
    with pytest.raises(ValueError, match="4 class means, expected 3"):
        bad = EmbeddingAnchor(torch.zeros(4, 1280), 1.0, 16)
        distill(*reals, 3, features, DistillConfig(**TINY, anchor=1.0), progress=False, anchor=bad)
