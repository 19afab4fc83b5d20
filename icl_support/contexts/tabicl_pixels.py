"""Images made for the in-context learner: pixels optimised end to end through the frozen backbone, the fixed PCA
and TabICL itself (the pixel version of ``tabicl_lgm``).

Each of the ``C * ipc`` synthetic images starts as a real image (the one nearest its class's mean embedding,
``init="centroid"``) and is parametrised as ``sigmoid(logit(start) + delta)``, so it stays in [0, 1]. A step
embeds the images' centre views (the view a context row is made of), projects them with the evaluators' PCA,
and minimises TabICL's cross-entropy (:class:`~icl_support.model.torch_path.TorchTabICL`, the
wrapper's ``n_estimators=1`` path) on a batch of real pool rows given the synthetic rows as the context. An
optional anchor term ``anchor * ||z - mu_c||^2 / s^2`` keeps each image's embedding near its class mean
(``s``: the pool's mean distance to its class mean). Only ``delta`` is learnt; backbone, PCA and TabICL are
frozen. A run checkpoints to ``work_dir`` every ``checkpoint_every`` steps and resumes from there. Usage::

    result = distill_tabicl_pixels(start, y_start, data=data, pca=pca, net=net, config=config, work_dir=work_dir)
    result.images          # (C * ipc, 3, side, side) float32 in [0, 1]
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..core.cache import save_torch_atomic
from ..core.device import require_at_least_one
from ..data.images import center_view
from ..embedding.image_pool import ImageData
from .pixel_lgm import EmbeddingAnchor


@dataclass(frozen=True)
class TabICLPixelConfig:
    """Hyper-parameters; ``lr`` is Adam's step on the logit offsets ``delta``."""

    ipc: int = 1
    steps: int = 200
    lr: float = 0.05
    query_batch: int = 128
    anchor: float = 0.0
    checkpoint_every: int = 25
    seed: int = 0

    def __post_init__(self) -> None:
        require_at_least_one(self, "ipc", "steps", "query_batch", "checkpoint_every")
        if self.lr <= 0 or self.anchor < 0:
            raise ValueError(f"TabICLPixelConfig needs lr > 0 and anchor >= 0, got {self.lr}, {self.anchor}")


@dataclass(frozen=True)
class TabICLPixelResult:
    images: np.ndarray  # (C * ipc, 3, side, side) float32 in [0, 1], class-major
    labels: np.ndarray  # (C * ipc,) int64
    losses: np.ndarray  # (steps,) TabICL cross-entropy (nats) on each step's query batch, before the update
    seconds_per_step: float


def config_key(cfg: TabICLPixelConfig) -> dict:
    return {"kind": "tabicl-pixels/v1", **{k: v for k, v in asdict(cfg).items() if k != "checkpoint_every"}}


def _project(z: torch.Tensor, pca) -> torch.Tensor:
    """The evaluators' PCA as a differentiable map (identity when ``pca`` is ``None``)."""
    if pca is None:
        return z
    mean = torch.as_tensor(pca.mean_, dtype=z.dtype)
    components = torch.as_tensor(pca.components_, dtype=z.dtype)
    return (z - mean) @ components.T


def distill_tabicl_pixels(
    start: torch.Tensor,
    labels: np.ndarray,
    *,
    data: ImageData,
    pca,
    net,
    config: TabICLPixelConfig,
    work_dir: str | Path,
    progress: bool = True,
) -> TabICLPixelResult:
    """Optimise images ``start`` (n, 3, side, side) in [0, 1] with ``labels`` (n,) so that TabICL (``net``) reading
    their PCA rows as the context classifies the real pool rows well: ``data`` gives the frozen backbone
    (``features``, seen at ``crop`` px) and the pool's raw embeddings ``Z_pool`` (M, F) with labels ``y_pool``."""
    features, crop, Z_pool, y_pool = data.features, data.crop, data.Z_pool, data.y_pool
    cfg, work = config, Path(work_dir)
    y_ctx = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    rows_pool = _project(torch.as_tensor(np.asarray(Z_pool), dtype=torch.float32), pca).detach()
    y_q = torch.as_tensor(np.asarray(y_pool), dtype=torch.long)
    anchor = EmbeddingAnchor.from_rows(Z_pool, y_pool, crop)
    base = torch.logit(start.clamp(1e-3, 1 - 1e-3)).detach()
    delta = torch.nn.Parameter(torch.zeros_like(base))
    opt = torch.optim.Adam([delta], lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    step, losses, seconds = 0, [], 0.0
    ckpt = work / "checkpoint.pt"
    if ckpt.exists():  # resume
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        delta.data.copy_(state["delta"])
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        step, losses, seconds = int(state["step"]), state["losses"].tolist(), float(state["seconds"])
    batch = min(cfg.query_batch, len(rows_pool))
    bar = tqdm(range(step, cfg.steps), desc="TabICL pixels", disable=not progress, initial=step, total=cfg.steps)
    for step in bar:
        t = time.perf_counter()
        images = torch.sigmoid(base + delta)
        z = features(center_view(images, crop))
        idx = torch.randperm(len(rows_pool), generator=gen)[:batch]
        logits = net(_project(z, pca), y_ctx, rows_pool[idx]) / net.softmax_temperature
        loss = F.cross_entropy(logits, y_q[idx])
        total = loss + cfg.anchor * anchor.loss(z, y_ctx) if cfg.anchor else loss
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        losses.append(float(loss.detach()))
        seconds += time.perf_counter() - t
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
        if (step + 1) % cfg.checkpoint_every == 0 and step + 1 < cfg.steps:
            work.mkdir(parents=True, exist_ok=True)
            state = {"delta": delta.detach(), "optimizer": opt.state_dict(), "generator": gen.get_state(),
                     "step": step + 1, "losses": torch.tensor(losses), "seconds": seconds}  # fmt: skip
            save_torch_atomic(state, ckpt)
    with torch.no_grad():
        images = torch.sigmoid(base + delta).numpy().astype(np.float32)
    return TabICLPixelResult(images, np.asarray(labels, np.int64), np.asarray(losses, np.float32), seconds / cfg.steps)


def tabicl_pixel_images(run, data, pca, config: TabICLPixelConfig, progress: bool = True) -> dict[str, np.ndarray]:
    """TabICL-aware images for ``data``'s pool (cached; an interrupted run resumes from its checkpoint).

    Keyed by the config, the pool and test images, the TabICL checkpoint and the PCA. Keys: ``images``,
    ``labels``, ``losses``, ``seconds_per_step``."""
    from ..core.cache import file_sha256, key_digest, load_or_none, save_arrays
    from ..model.torch_path import TorchTabICL
    from .selection import centroid

    weights = run.weights
    # Both digests are sha256 of raw bytes (first 16 hex), the keys of the cache entries already written.
    pca_digest = hashlib.sha256(np.asarray(pca.components_).tobytes()).hexdigest()[:16] if pca is not None else ""
    checkpoint = file_sha256(weights.path, missing_ok=False)[:16] if weights.path else weights.kind
    key = {**config_key(config), **data.key, "tabicl": checkpoint, "pca": pca_digest}
    path = run.settings.cache_path / "lgm" / f"tabicl-pixels-{run.settings.dataset}-{key_digest(key)}.npz"
    hit = load_or_none(path, key)
    if hit is not None:
        return hit
    idx = centroid(data.Z_pool, data.y_pool, config.ipc)
    net = TorchTabICL(weights, "cpu")
    r = distill_tabicl_pixels(
        data.pool[idx], data.y_pool[idx], data=data, pca=pca, net=net, config=config,
        work_dir=path.with_suffix(".work"), progress=progress,
    )  # fmt: skip
    out = {"images": r.images, "labels": r.labels, "losses": r.losses, "seconds_per_step": np.array(r.seconds_per_step)}
    if save_arrays(path, key, **out):
        (path.with_suffix(".work") / "checkpoint.pt").unlink(missing_ok=True)
    return out
