"""LGM's linear-probe protocol on a handful of training images.

A fresh linear head is trained on embeddings of augmented training images (flip + random resized
crop, no noise), Adam with lr = 1e-3 * batch / 256, cosine schedule to 0, batch = min(100, N); the
final epoch's head is scored on the test embeddings (never "best on test"). To keep the frozen
backbone out of the training loop, each image's augmentations are embedded once into a bank of
``n_augs`` views, and every epoch draws one view per image from it. Usage::

    bank = augmented_bank(images, features, n_augs=64, generator=g)   # (N, A, F)
    accs = linear_probe(bank, y, Z_test, y_test, epochs=300, seeds=range(5))
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F

from ..data.augment import augment


@torch.no_grad()
def augmented_bank(
    images01: torch.Tensor, features, n_augs: int, generator: torch.Generator, crop: int | None = None, batch: int = 256
) -> torch.Tensor:
    """Embeddings ``(N, n_augs, F)`` of ``n_augs`` flip + random-resized-crop views (``crop`` pixels,
    default the images' side) of each image (N, 3, side, side) in [0, 1]."""
    res = crop or images01.shape[-1]
    views = images01.repeat(n_augs, 1, 1, 1)  # view a of image i at row a * N + i
    out = []
    for start in range(0, len(views), batch):
        x = augment(views[start : start + batch], res, generator, noise_mean=0.0, noise_std=0.0)
        out.append(features(x))
    Z = torch.cat(out)
    return Z.view(n_augs, len(images01), -1).transpose(0, 1).contiguous()


def linear_probe(
    bank: torch.Tensor,
    y: np.ndarray,
    Z_test: np.ndarray,
    y_test: np.ndarray,
    epochs: int = 1000,
    seeds: Iterable[int] = range(5),
) -> list[float]:
    """Test accuracy of the final-epoch head for each seed. ``bank``: (N, A, F); ``y``: (N,).

    The seeds' heads train side by side as one batched head (S, C, F): each seed keeps its own generator (its
    initial head, epoch orders and view draws) and its own Adam moments (Adam is elementwise), so a seed's
    result does not depend on which other seeds run with it; batching only removes the per-step overhead."""
    seeds = list(seeds)
    y_t = torch.as_tensor(y, dtype=torch.long)
    Z_test = torch.as_tensor(Z_test, dtype=torch.float32)
    n, n_augs, dim = bank.shape
    n_classes = int(max(y.max(), y_test.max())) + 1
    batch = min(100, n)
    steps_per_epoch = int(np.ceil(n / batch))
    gens = [torch.Generator().manual_seed(seed) for seed in seeds]
    W = torch.nn.Parameter(torch.stack([0.01 * torch.randn(n_classes, dim, generator=g) for g in gens]))  # (S, C, F)
    b = torch.nn.Parameter(torch.zeros(len(seeds), 1, n_classes))
    opt = torch.optim.Adam([W, b], lr=1e-3 * batch / 256)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch, eta_min=0.0)
    for _ in range(epochs):
        draws = [(torch.randperm(n, generator=g), torch.randint(n_augs, (n,), generator=g)) for g in gens]
        order = torch.stack([o for o, _ in draws])  # (S, N)
        views = torch.stack([v for _, v in draws])  # (S, N)
        for start in range(0, n, batch):
            i = order[:, start : start + batch]  # (S, B)
            x = bank[i, torch.gather(views, 1, i)]  # (S, B, F)
            logits = torch.baddbmm(b, x, W.transpose(1, 2))  # (S, B, C)
            # the sum over seeds of each seed's mean loss: every head gets exactly its own gradient
            loss = F.cross_entropy(logits.flatten(0, 1), y_t[i].flatten(), reduction="sum") / i.shape[1]
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    with torch.no_grad():
        pred = torch.baddbmm(b, Z_test.expand(len(seeds), -1, -1), W.transpose(1, 2)).argmax(-1).numpy()  # (S, T)
    return [float((p == y_test).mean()) for p in pred]
