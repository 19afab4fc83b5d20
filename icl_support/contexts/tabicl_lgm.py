"""TabICL-aware context distillation: optimise the context rows through TabICL itself.

A small synthetic context of ``ipc`` rows per class (embedding space) is optimised with Adam so that
TabICL, given that context, classifies real rows well: each step draws a mini-batch of real query
rows from a pool and minimises the cross-entropy of ``TorchTabICL.predict_proba`` (the wrapper's
``n_estimators=1`` probabilities, temperature 0.9) on them. Gradients reach the rows through
TabICL's preprocessing (context z-score and outlier bounds) and the frozen model
(:mod:`icl_support.model.torch_path`); only the rows are parameters, labels stay fixed.

Unlike LGM (:mod:`icl_support.contexts.row_lgm`) the objective is the target model's own loss, so
the result is tied to the TabICL weights used: with random weights (``RANDOM_BANNER``) it is a
test of the plumbing, never a result. Usage::

    net = TorchTabICL(weights)
    result = distill_tabicl(net, Z_pool, y_pool, n_classes=10, config=TabICLDistillConfig(ipc=1))
    result.rows        # (C * ipc, F) float32, class order; result.labels (C * ipc,)
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..core.device import require_at_least_one
from ..model.torch_path import TorchTabICL
from .selection import centroid

INITS = ("centroid", "random")


@dataclass(frozen=True)
class TabICLDistillConfig:
    """Hyper-parameters. ``lr`` is in units of the pool's mean per-feature std (Adam, constant)."""

    ipc: int = 1  # synthetic rows per class
    steps: int = 200
    lr: float = 0.01
    query_batch: int = 128  # real query rows per step, drawn without replacement (whole pool if smaller)
    init: str = "centroid"  # "centroid": the ipc real rows nearest each class mean; "random": ipc random real rows
    seed: int = 0
    context_stats: str = "context"  # TabICL's preprocessing fitted on the rows being made, or "pool": on the pool

    def __post_init__(self) -> None:
        require_at_least_one(self, "ipc", "steps", "query_batch")
        if self.init not in INITS:
            raise ValueError(f"TabICLDistillConfig.init must be one of {INITS}, got {self.init!r}")
        if not self.lr > 0:
            raise ValueError(f"TabICLDistillConfig.lr must be > 0, got {self.lr}")
        if self.context_stats not in ("context", "pool"):
            raise ValueError(
                f"TabICLDistillConfig.context_stats must be 'context' or 'pool', got {self.context_stats!r}"
            )


@dataclass
class TabICLDistillResult:
    rows: np.ndarray  # (C * ipc, F) float32, class-major order
    labels: np.ndarray  # (C * ipc,) int64
    losses: np.ndarray  # (steps,) float32: cross-entropy (nats) on that step's query batch, before the update
    seconds_per_step: float
    weights_label: str  # which TabICL weights; RANDOM_BANNER for random weights


def initial_rows(
    pool: torch.Tensor, y: torch.Tensor, n_classes: int, ipc: int, init: str, gen: torch.Generator
) -> torch.Tensor:
    """Starting rows (C * ipc, F), class-major: per class the ``ipc`` rows nearest (L2) the class mean
    (``centroid``: :func:`icl_support.contexts.centroid`) or ``ipc``
    random rows without replacement (``random``, drawn from ``gen``)."""
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    if init == "centroid":
        idx = centroid(pool.detach().cpu().numpy(), y.cpu().numpy(), ipc)
        return pool[torch.as_tensor(idx, device=pool.device)].clone()
    picks = []
    for c in range(n_classes):
        rows = torch.nonzero(y == c).flatten()
        picks.append(rows[torch.randperm(len(rows), generator=gen)[:ipc].to(rows.device)])
    return pool[torch.cat(picks)].clone()


def _check_pool(pool: torch.Tensor, y: torch.Tensor, n_classes: int, ipc: int, max_classes: int) -> None:
    if pool.ndim != 2 or y.ndim != 1 or pool.shape[0] != y.shape[0] or pool.shape[0] == 0 or pool.shape[1] == 0:
        raise ValueError(f"need pool (M, F) and labels (M,), M, F >= 1; got {tuple(pool.shape)} and {tuple(y.shape)}")
    if not bool(torch.isfinite(pool).all()):
        raise ValueError("pool contains NaN/inf")
    if not 1 <= n_classes <= max_classes:
        raise ValueError(f"n_classes must be in [1, {max_classes}] (TabICL's native limit), got {n_classes}")
    if int(y.min()) < 0 or int(y.max()) >= n_classes:
        raise ValueError(f"labels must lie in [0, {n_classes}), got [{int(y.min())}, {int(y.max())}]")
    counts = torch.bincount(y, minlength=n_classes)
    short = [c for c in range(n_classes) if int(counts[c]) < ipc]
    if short:
        raise ValueError(f"classes {short} have fewer than ipc={ipc} rows in the pool (counts {counts.tolist()})")


def distill_tabicl(
    net: TorchTabICL,
    pool: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    config: TabICLDistillConfig,
    progress: bool = True,
) -> TabICLDistillResult:
    """Optimise ``C * ipc`` context rows so that TabICL classifies the real ``pool`` rows (M, F), labels
    ``y`` (M,) in [0, n_classes), well. Deterministic given ``config.seed`` (same threads, same device)."""
    cfg = config
    pool_t = torch.as_tensor(np.asarray(pool), dtype=torch.float32)
    y_t = torch.as_tensor(np.asarray(y))
    if y_t.is_floating_point():
        raise ValueError(f"labels must be integers, got dtype {y_t.dtype}")
    y_t = y_t.long()
    _check_pool(pool_t, y_t, n_classes, cfg.ipc, net.max_classes)
    pool_t, y_t = pool_t.to(net.device), y_t.to(net.device)
    gen = torch.Generator().manual_seed(cfg.seed)  # CPU stream: same draws on every device
    labels = torch.arange(n_classes, device=net.device).repeat_interleave(cfg.ipc)
    rows = torch.nn.Parameter(initial_rows(pool_t, y_t, n_classes, cfg.ipc, cfg.init, gen))
    scale = float(pool_t.std(0).mean()) if len(pool_t) > 1 else 1.0
    opt = torch.optim.Adam([rows], lr=cfg.lr * (scale if scale > 0 else 1.0))
    batch = min(cfg.query_batch, len(pool_t))
    losses = []
    t0 = time.perf_counter()
    bar = tqdm(range(cfg.steps), desc="TabICL distill", disable=not progress)
    for _ in bar:
        idx = torch.randperm(len(pool_t), generator=gen)[:batch].to(net.device)
        stats_rows = pool_t if cfg.context_stats == "pool" else None
        logits = net(rows, labels, pool_t[idx], stats_rows) / net.softmax_temperature  # columns = classes 0..C-1
        loss = F.cross_entropy(logits, y_t[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    seconds = (time.perf_counter() - t0) / cfg.steps
    return TabICLDistillResult(
        rows.detach().cpu().numpy().astype(np.float32),
        labels.cpu().numpy().astype(np.int64),
        np.asarray(losses, np.float32),
        seconds,
        net.weights_label,
    )


def config_key(cfg: TabICLDistillConfig) -> dict:
    """Cache key of a run's configuration (add the weights' path and the pool's digest yourself)."""
    key = asdict(cfg)
    if key["context_stats"] == "context":  # the default keeps the keys of caches written before the option
        del key["context_stats"]
    return {"kind": "tabicl-distill/v1", **key}
