"""Image augmentation for LGM and the linear probe: flip, random resized crop, noise; differentiable and
reproducible (the random numbers are drawn first, :class:`AugmentDraw`, then applied)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentDraw:
    """The random numbers of :func:`augment` for ``B`` images, on the CPU, in the order drawn.

    ``u`` (6, B) uniforms: scale, ratio, centre x, centre y, flip, noise-on; ``noise`` (B, C, r, r)
    standard normals. Slicing ``[lo:hi]`` gives the draw of images ``lo..hi-1``: a data-parallel
    rank draws the whole batch (keeping the generator in step with every other rank) and applies
    only its slice.
    """

    u: torch.Tensor
    noise: torch.Tensor
    out_res: int
    noise_mean: float
    noise_std: float

    def __getitem__(self, s: slice) -> AugmentDraw:
        return AugmentDraw(self.u[:, s], self.noise[s], self.out_res, self.noise_mean, self.noise_std)


def draw_augment(
    n: int, out_res: int, generator: torch.Generator, noise_mean: float, noise_std: float, channels: int = 3
) -> AugmentDraw:
    """Draw the augmentation of ``n`` images (consumes ``generator`` exactly as :func:`augment` does)."""
    u = torch.stack([torch.rand(n, generator=generator) for _ in range(6)])
    noise = torch.randn((n, channels, out_res, out_res), generator=generator)
    return AugmentDraw(u, noise, out_res, noise_mean, noise_std)


def apply_augment(images: torch.Tensor, draw: AugmentDraw) -> torch.Tensor:
    """Apply ``draw`` to ``images`` (B, C, H, W) in [0, 1] -> (B, C, out_res, out_res); differentiable."""
    B, device, out_res = images.shape[0], images.device, draw.out_res
    if draw.u.shape[1] != B:
        raise ValueError(f"augmentation drawn for {draw.u.shape[1]} images, applied to {B}")
    u = draw.u.to(device)
    scale = 0.08 + 0.92 * u[0]
    ratio = torch.exp(math.log(3 / 4) + (math.log(4 / 3) - math.log(3 / 4)) * u[1])
    w = torch.sqrt(scale * ratio).clamp(max=1.0)
    h = torch.sqrt(scale / ratio).clamp(max=1.0)
    cx = (2 * u[2] - 1) * (1 - w)
    cy = (2 * u[3] - 1) * (1 - h)
    flip = torch.where(u[4] < 0.5, -1.0, 1.0)
    theta = torch.zeros(B, 2, 3, device=device)
    theta[:, 0, 0], theta[:, 0, 2] = w * flip, cx
    theta[:, 1, 1], theta[:, 1, 2] = h, cy
    grid = F.affine_grid(theta, [B, 3, out_res, out_res], align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    noisy = (u[5] < 0.5).float().view(B, 1, 1, 1)
    noise = draw.noise_mean + draw.noise_std * draw.noise.to(device)
    return out + noisy * noise


def augment(
    images: torch.Tensor, out_res: int, generator: torch.Generator, noise_mean: float, noise_std: float
) -> torch.Tensor:
    """Differentiable flip (p=0.5), random resized crop (scale U(0.08, 1), log-uniform ratio 3/4..4/3)
    through ``affine_grid``/``grid_sample`` (bilinear, zero padding), then noise N(mean, std^2) with
    p=0.5. ``images``: (B, 3, H, W) in [0, 1] -> (B, 3, out_res, out_res). Each image draws its own."""
    draw = draw_augment(images.shape[0], out_res, generator, noise_mean, noise_std, images.shape[1])
    return apply_augment(images, draw)
