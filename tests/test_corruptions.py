import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchvision.transforms.functional import gaussian_blur

from icl_support.core.config import CORRUPTION_NAMES
from icl_support.data.corruptions import CORRUPTIONS, SEVERITIES, corrupt


def _images(n=6, side=32, seed=0):
    """Structured test images in [0, 1]: smooth colour fields plus sharp squares (edges for blur/JPEG)."""
    g = torch.Generator().manual_seed(seed)
    smooth = F.interpolate(torch.rand(n, 3, 4, 4, generator=g), size=(side, side), mode="bilinear")
    x = 0.2 + 0.6 * smooth
    for i in range(n):
        a, b = torch.randint(0, side // 2, (2,), generator=g).tolist()
        x[i, :, a : a + side // 3, b : b + side // 3] = torch.rand(3, 1, 1, generator=g)
    return x


def test_registry_matches_config():
    assert tuple(CORRUPTIONS) == CORRUPTION_NAMES
    assert all(len(c.constants) == len(SEVERITIES) for c in CORRUPTIONS.values())


@pytest.mark.parametrize("name", list(CORRUPTIONS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shape_dtype_range(name, dtype):
    x = _images(side=24).to(dtype)
    for severity in SEVERITIES:
        y = corrupt(x, name, severity, seed=1)
        assert y.shape == x.shape and y.dtype == dtype
        assert y.min() >= 0 and y.max() <= 1
        assert not torch.equal(y, x)
    assert torch.equal(x, _images(side=24).to(dtype))  # input untouched


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_deviation_grows_with_severity(name):
    x = _images()
    dev = [(corrupt(x, name, s, seed=0) - x).abs().mean().item() for s in SEVERITIES]
    assert all(a < b for a, b in zip(dev, dev[1:], strict=False)), dev


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_deterministic_in_seed(name):
    x = _images()
    assert torch.equal(corrupt(x, name, 3, seed=5), corrupt(x, name, 3, seed=5))


def test_noise_depends_on_seed_and_has_the_cifar_sigma():
    x = torch.full((4, 3, 32, 32), 0.5)  # mid-grey: no clamping at these sigmas
    a, b = corrupt(x, "gaussian_noise", 1, seed=0), corrupt(x, "gaussian_noise", 1, seed=1)
    assert not torch.equal(a, b)
    sigma = CORRUPTIONS["gaussian_noise"].constants[0]
    assert (a - x).std().item() == pytest.approx(sigma, rel=0.05)


def test_contrast_keeps_channel_means_and_scales_deviations():
    x = _images()
    c = CORRUPTIONS["contrast"].constants[4]
    y = corrupt(x, "contrast", 5)
    m = x.mean(dim=(-2, -1), keepdim=True)
    assert torch.allclose(y.mean(dim=(-2, -1)), m[..., 0, 0], atol=1e-5)
    assert torch.allclose(y - m, (x - m) * c, atol=1e-5)


def test_blur_scales_with_image_side():
    """The same picture at 32 and 64 px is blurred alike (sigma in 32-px CIFAR pixels)."""
    x32 = _images(side=32)
    x64 = F.interpolate(x32, scale_factor=2, mode="nearest")
    y32 = corrupt(x32, "gaussian_blur", 5)
    y64 = F.avg_pool2d(corrupt(x64, "gaussian_blur", 5), 2)
    sigma = CORRUPTIONS["gaussian_blur"].constants[4]
    radius = int(4 * sigma + 0.5)
    unscaled = F.avg_pool2d(gaussian_blur(x64, [2 * radius + 1] * 2, [sigma] * 2), 2)  # sigma in 64-px pixels
    assert (y64 - y32).abs().mean() < (unscaled - y32).abs().mean() / 3


def test_jpeg_is_a_real_round_trip():
    x = _images()
    y = corrupt(x, "jpeg", 1)
    assert np.allclose((y * 255).numpy(), (y * 255).round().numpy(), atol=1e-3)  # 8-bit output


def test_bad_input():
    x = _images(n=2)
    with pytest.raises(ValueError, match="unknown corruption 'fog'.*gaussian_noise, gaussian_blur, contrast, jpeg"):
        corrupt(x, "fog", 1)
    for bad in (0, 6, 2.5, True):
        with pytest.raises(ValueError, match=r"severity must be an int in 1\.\.5"):
            corrupt(x, "contrast", bad)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        corrupt(x[:, :1], "contrast", 1)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        corrupt(x[0], "contrast", 1)
    with pytest.raises(ValueError, match="float"):
        corrupt((x * 255).to(torch.uint8), "contrast", 1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        corrupt(x * 255, "contrast", 1)
