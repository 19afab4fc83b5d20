"""Embedding-space Linear Gradient Matching: optimise the context rows themselves.

The objective is pixel LGM's (:mod:`icl_support.contexts.pixel_lgm`): each step draws a fresh random linear
head W ~ N(0, head_std^2) (C, F), b = 0, and minimises 1 - cos(g_real, g_syn) between the
closed-form head gradients on a batch of real embeddings and on the synthetic rows. The difference:
the synthetic rows are free parameters in embedding space, so no backbone forward or backward runs
during distillation; only the real embeddings are needed (centre views, or a bank of augmented
views (M, A, F) from which each step draws one view per sampled row). The price: the result is a
row, not an image, so nothing can be shown, re-embedded by another backbone, or augmented.

Usage::

    result = distill_rows(Z_pool, y_pool, n_classes=10, config=RowDistillConfig(ipc=5))
    result.rows        # (C * ipc, F) float32, class order; result.labels (C * ipc,)
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from ..core.device import require_at_least_one
from .pixel_lgm import head_gradient, matching_loss


@dataclass(frozen=True)
class RowDistillConfig:
    """Hyper-parameters of embedding-space LGM. ``lr`` is in units of the pool's per-feature std."""

    ipc: int = 1  # synthetic rows per class
    steps: int = 500
    lr: float = 0.01  # Adam, constant; scaled by the pool's mean per-feature std
    real_per_class: int = 80  # real rows per class per step (pixel LGM: ipc * K)
    head_std: float = 0.01
    init: str = "random"  # "random": random real rows of each class; "noise": pool mean + pool-std noise
    seed: int = 0

    def __post_init__(self) -> None:
        require_at_least_one(self, "ipc", "steps", "real_per_class")
        if self.init not in ("random", "noise"):
            raise ValueError(f"RowDistillConfig.init must be 'random' or 'noise', got {self.init!r}")
        if not self.lr > 0 or not self.head_std > 0:
            raise ValueError(f"lr and head_std must be > 0, got lr={self.lr}, head_std={self.head_std}")


@dataclass
class RowDistillResult:
    rows: np.ndarray  # (C * ipc, F) float32
    labels: np.ndarray  # (C * ipc,) int64
    losses: np.ndarray  # (steps,) float32
    seconds_per_step: float


def distill_rows(
    real: np.ndarray, y: np.ndarray, n_classes: int, config: RowDistillConfig, progress: bool = True
) -> RowDistillResult:
    """Run embedding-space LGM. ``real``: (M, F) embeddings or (M, A, F) augmented views; ``y``: (M,)."""
    cfg = config
    real_t = torch.as_tensor(np.asarray(real), dtype=torch.float32)
    y_t = torch.as_tensor(np.asarray(y), dtype=torch.long)
    if real_t.ndim == 2:
        real_t = real_t[:, None, :]
    if real_t.ndim != 3 or y_t.shape != real_t.shape[:1]:
        raise ValueError(f"need real (M, F) or (M, A, F) and y (M,), got {tuple(real_t.shape)} and {tuple(y_t.shape)}")
    if not torch.isfinite(real_t).all():
        raise ValueError("real embeddings contain NaN/inf")
    if len(y_t) and (int(y_t.min()) < 0 or int(y_t.max()) >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes}), got [{int(y_t.min())}, {int(y_t.max())}]")
    by_class = [torch.nonzero(y_t == c).flatten() for c in range(n_classes)]
    missing = [c for c, rows in enumerate(by_class) if len(rows) == 0]
    if missing:
        raise ValueError(f"classes {missing} have no real rows")
    gen = torch.Generator().manual_seed(cfg.seed)
    centre = real_t.mean(1)  # (M, F): the mean view of each row
    scale = float(centre.std(0).mean())
    labels = torch.arange(n_classes).repeat_interleave(cfg.ipc)
    if cfg.init == "random":
        pick = torch.cat([rows[torch.randint(len(rows), (cfg.ipc,), generator=gen)] for rows in by_class])
        init = centre[pick].clone()
    else:
        init = centre.mean(0) + centre.std(0) * torch.randn(len(labels), centre.shape[1], generator=gen)
    syn = torch.nn.Parameter(init)
    opt = torch.optim.Adam([syn], lr=cfg.lr * scale)
    n_views = real_t.shape[1]
    losses = []
    t0 = time.perf_counter()
    bar = tqdm(range(cfg.steps), desc="row LGM", disable=not progress)
    for _ in bar:
        idx = torch.cat([rows[torch.randint(len(rows), (cfg.real_per_class,), generator=gen)] for rows in by_class])
        view = torch.randint(n_views, (len(idx),), generator=gen)
        W = cfg.head_std * torch.randn(n_classes, real_t.shape[2], generator=gen)
        b = torch.zeros(n_classes)
        with torch.no_grad():
            g_real = head_gradient(real_t[idx, view], y_t[idx], W, b)
        loss = matching_loss(g_real, head_gradient(syn, labels, W, b))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    seconds = (time.perf_counter() - t0) / cfg.steps
    return RowDistillResult(
        syn.detach().numpy().astype(np.float32),
        labels.numpy().astype(np.int64),
        np.asarray(losses, np.float32),
        seconds,
    )


def config_key(cfg: RowDistillConfig) -> dict:
    return {"kind": "row-lgm/v1", **asdict(cfg)}
