"""Image corruptions for distribution shift, applied to test images only.

Images are float tensors ``(N, 3, H, W)`` in [0, 1] (as :func:`icl_support.chapters.one_per_class.load_images`
delivers them); every corruption returns a tensor of the same shape, dtype and device, clamped to [0, 1].

Constants: Hendrycks & Dietterich, "Benchmarking Neural Network Robustness to Common Corruptions and
Perturbations" (ICLR 2019), CIFAR-10-C, as in their ``ImageNet-C/create_c/make_cifar_c.py``
(github.com/hendrycks/robustness), severities 1..5:

``gaussian_noise``  add N(0, sigma^2) per pixel and channel, sigma = [0.04, 0.06, 0.08, 0.09, 0.10]
                    (intensity units, image in [0, 1]).
``gaussian_blur``   Gaussian blur, sigma = [0.4, 0.6, 0.7, 0.8, 1.0] pixels *of a 32-pixel CIFAR image*;
                    here scaled by ``W / 32`` so an upsampled CIFAR image is blurred as much as the original
                    (identical to the reference at 32 px). Kernel radius ``int(4 sigma + 0.5)`` as skimage's
                    default ``truncate=4``; torchvision pads by reflection (skimage: ``nearest``).
``contrast``        ``(x - m) * c + m`` with ``m`` the per-image, per-channel mean, c = [0.75, 0.5, 0.4, 0.3, 0.15].
``jpeg``            PIL JPEG round trip at quality = [80, 65, 58, 50, 40] (image quantised to 8 bits first).

Differences from the reference: outputs stay float (CIFAR-10-C stores ``uint8``), and the noise
comes from a seeded ``torch.Generator`` (deterministic given ``seed``). Usage::

    shifted = corrupt(images, "gaussian_noise", severity=3, seed=0)
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torchvision.transforms.functional import gaussian_blur as tv_gaussian_blur
from tqdm.auto import tqdm

SEVERITIES = (1, 2, 3, 4, 5)
CIFAR_SIDE = 32  # pixels: the image side the blur constants refer to


@dataclass(frozen=True)
class Corruption:
    """One corruption: its per-severity constants (index ``severity - 1``), their meaning, and the function."""

    name: str
    constants: tuple[float, ...]
    meaning: str
    apply: Callable[[torch.Tensor, float, torch.Generator], torch.Tensor]


def _gaussian_noise(images: torch.Tensor, sigma: float, gen: torch.Generator) -> torch.Tensor:
    noise = torch.randn(images.shape, generator=gen, dtype=torch.float32).to(images.device, images.dtype)
    return images + sigma * noise


def _gaussian_blur(images: torch.Tensor, sigma: float, gen: torch.Generator) -> torch.Tensor:
    h, w = images.shape[-2:]
    sigma_px = sigma * w / CIFAR_SIDE
    radius = min(int(4 * sigma_px + 0.5), h - 1, w - 1)  # reflection padding needs radius < side
    if radius < 1:
        return images.clone()
    return tv_gaussian_blur(images, kernel_size=[2 * radius + 1] * 2, sigma=[sigma_px] * 2)


def _contrast(images: torch.Tensor, c: float, gen: torch.Generator) -> torch.Tensor:
    means = images.mean(dim=(-2, -1), keepdim=True)
    return (images - means) * c + means


def _jpeg(images: torch.Tensor, quality: float, gen: torch.Generator) -> torch.Tensor:
    pixels = (images.detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    out = np.empty_like(pixels)
    for i in tqdm(range(len(pixels)), desc=f"jpeg q={int(quality)}", leave=False, disable=len(pixels) < 1000):
        buffer = io.BytesIO()
        Image.fromarray(pixels[i]).save(buffer, format="JPEG", quality=int(quality))
        buffer.seek(0)
        out[i] = np.asarray(Image.open(buffer).convert("RGB"))
    return torch.from_numpy(out).permute(0, 3, 1, 2).to(images.device, images.dtype) / 255


CORRUPTIONS: dict[str, Corruption] = {
    "gaussian_noise": Corruption(
        "gaussian_noise", (0.04, 0.06, 0.08, 0.09, 0.10), "noise std (intensity in [0, 1])", _gaussian_noise
    ),
    "gaussian_blur": Corruption(
        "gaussian_blur", (0.4, 0.6, 0.7, 0.8, 1.0), "blur std (pixels of a 32-px image)", _gaussian_blur
    ),
    "contrast": Corruption("contrast", (0.75, 0.5, 0.4, 0.3, 0.15), "contrast factor", _contrast),
    "jpeg": Corruption("jpeg", (80, 65, 58, 50, 40), "JPEG quality", _jpeg),
}


def corrupt(images: torch.Tensor, name: str, severity: int, seed: int = 0) -> torch.Tensor:
    """``images`` (N, 3, H, W) float in [0, 1] under corruption ``name`` at ``severity`` (1..5).

    Returns a new tensor, same shape/dtype/device, clamped to [0, 1]; deterministic given ``seed``.
    """
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; valid: {', '.join(CORRUPTIONS)}")
    if isinstance(severity, bool) or not isinstance(severity, int | np.integer) or severity not in SEVERITIES:
        raise ValueError(f"severity must be an int in 1..5, got {severity!r}")
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if hasattr(images, "shape") else type(images).__name__
        raise ValueError(f"images must be a tensor of shape (N, 3, H, W), got {shape}")
    if not images.is_floating_point():
        raise ValueError(f"images must be float in [0, 1], got dtype {images.dtype}")
    if images.numel() and (images.min() < 0 or images.max() > 1):
        raise ValueError(f"images must lie in [0, 1], got [{images.min().item():.3g}, {images.max().item():.3g}]")
    spec = CORRUPTIONS[name]
    gen = torch.Generator().manual_seed(int(seed))
    return spec.apply(images, spec.constants[int(severity) - 1], gen).clamp(0, 1).to(images.dtype)
