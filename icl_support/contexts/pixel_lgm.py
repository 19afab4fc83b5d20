"""Linear Gradient Matching (LGM): synthesise images per class for a frozen backbone.

Each step draws a fresh random linear head W ~ N(0, head_std^2) (C, F), b = 0, and matches the
gradient of that head's cross-entropy on augmented real images with the gradient on augmented
copies of the synthetic images: loss = 1 - cos(flat[dW_real, db_real], flat[dW_syn, db_syn]).
Both gradients are in closed form, dW = (softmax(Wz + b) - onehot(y))^T z / N and
db = mean(softmax - onehot). The real side runs under ``no_grad``; the synthetic side stays
differentiable, so the loss reaches the pixels through the frozen backbone. Adam updates the
image parameters only.

Images are a pyramid of resolutions 1, 2, 4, ..., ``syn_res``, each bilinearly upsampled and summed,
then colour-decorrelated and squashed with ``sigmoid(2x)`` into [0, 1]. A finer level is added
every ``grow_every`` steps (a fresh Adam each time). Images are normalised exactly once, by
:meth:`FrozenFeatures.__call__`. Usage::

    features = FrozenFeatures(backbone)
    result = distill(real_images, real_labels, n_classes, features, DistillConfig(steps=500), work_dir=work_dir)
    result.images          # (C * ipc, 3, syn_res, syn_res) float32 in [0, 1]

Anchored LGM (``anchor`` > 0, not in the reference): the loss gains ``anchor * ||z - mu_c||^2 / s^2``, where
``z`` is each synthetic image's centre-view embedding (the view a context row is made of), ``mu_c`` its class's
mean real row and ``s^2`` the real rows' mean squared distance to their class mean (:class:`EmbeddingAnchor`),
so the images stay where their class's rows lie while they match the heads' gradients.

Deviation from the reference code: none by default (noise mean 0.5, as there). ``noise_mean=0.0``
gives zero-mean noise, which is likely what was intended.

Size: about 460 lines, kept in one module on purpose: the config, the image parametrisation, the closed-form
head gradient, the anchor, the resumable state and the single- and data-parallel step are one algorithm whose
parts must consume the same random numbers in the same order (resume and data parallelism are tested to be
bitwise the uninterrupted single-process run); every function in it is under about 60 lines.
"""

from __future__ import annotations

import json
import math
import numbers
import resource
import time
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..core.cache import save_torch_atomic
from ..data.augment import apply_augment, augment, draw_augment
from ..data.images import center_view
from ..embedding.frozen import FrozenFeatures

# Lucid's square root of ImageNet's colour covariance (rows: output RGB, columns: input channels)
COLOR_CORRELATION = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])


@dataclass(frozen=True)
class DistillConfig:
    """LGM hyper-parameters; the defaults are the reference's (ImageNet subsets, 256 px, K = 10)."""

    ipc: int = 1  # synthetic images per class
    steps: int = 5000
    lr: float = 2e-3  # Adam, constant
    augs_per_step: int = 10  # K: augmented copies of the synthetic set per step
    syn_res: int = 256  # stored image side, pixels (a power of two)
    crop_res: int = 224  # side the backbone sees after random-resized-crop
    grow_every: int = 200  # steps between pyramid levels
    decorrelate: bool = True
    noise_mean: float = 0.5  # reference value (a brightness shift); 0.0 = zero-mean noise
    noise_std: float = 0.2
    head_std: float = 0.01
    checkpoint_every: int = 100
    snapshot_res: int = 64  # side of the stored growth snapshots
    seed: int = 3407  # the reference code's seed
    anchor: float = 0.0  # weight of the class-mean anchor (0: plain LGM; needs an EmbeddingAnchor)

    def __post_init__(self) -> None:
        for f in fields(self):  # numpy scalars pass (numbers.Integral / numbers.Real); bools only where declared
            value, kind = getattr(self, f.name), _FIELD_TYPES[f.name]
            abstract = {int: numbers.Integral, float: numbers.Real, bool: (bool, np.bool_)}[kind]
            ok = isinstance(value, abstract) and (kind is bool or not isinstance(value, (bool, np.bool_)))
            if not ok:
                raise TypeError(f"DistillConfig.{f.name} must be {kind.__name__}, got {type(value).__name__} {value!r}")
        if self.ipc < 1 or self.steps < 1 or self.augs_per_step < 1:
            raise ValueError(
                f"ipc, steps and augs_per_step must be >= 1, got {self.ipc}, {self.steps}, {self.augs_per_step}"
            )
        if self.syn_res < 1 or self.syn_res & (self.syn_res - 1):
            raise ValueError(f"syn_res must be a power of two, got {self.syn_res}")
        if not 0 < self.crop_res <= self.syn_res:
            raise ValueError(f"crop_res must be in (0, syn_res], got {self.crop_res}")
        if self.anchor < 0:
            raise ValueError(f"anchor must be >= 0, got {self.anchor}")

    @property
    def n_levels(self) -> int:
        return int(math.log2(self.syn_res)) + 1


_FIELD_TYPES = {
    f.name: {"int": int, "float": float, "bool": bool}[f.type] if isinstance(f.type, str) else f.type
    for f in fields(DistillConfig)
}


class PyramidImages(nn.Module):
    """``n`` images stored as a growing pyramid; :meth:`forward` decodes ``(n, 3, res, res)`` in [0, 1]."""

    def __init__(self, n: int, res: int, decorrelate: bool = True, generator: torch.Generator | None = None):
        super().__init__()
        self.n, self.res, self.decorrelate = n, res, decorrelate
        self.levels = nn.ParameterList([nn.Parameter(torch.randn(n, 3, 1, 1, generator=generator))])
        color = COLOR_CORRELATION / COLOR_CORRELATION.norm(dim=0).max()
        self.register_buffer("color", color)

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    @torch.no_grad()
    def grow(self, generator: torch.Generator | None = None) -> bool:
        """Add the next finer level (randn / (L+1)), rescale the others by L/(L+1); False when full."""
        L = self.n_levels
        side = 2**L
        if side > self.res:
            return False
        for p in self.levels:
            p.mul_(L / (L + 1))
        device = self.levels[0].device
        self.levels.append(nn.Parameter(torch.randn(self.n, 3, side, side, generator=generator).to(device) / (L + 1)))
        return True

    def forward(self) -> torch.Tensor:
        x = sum(
            F.interpolate(p, size=(self.res, self.res), mode="bilinear", align_corners=False)
            if p.shape[-1] != self.res
            else p
            for p in self.levels
        )
        if self.decorrelate:
            x = torch.einsum("ij,njhw->nihw", self.color, x)
        return torch.sigmoid(2 * x)


def head_gradient(
    z: torch.Tensor, y: torch.Tensor, W: torch.Tensor, b: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """Closed-form gradient of the cross-entropy of ``z @ W.T + b`` w.r.t. (W, b), flattened: averaged over the rows
    (``reduction="mean"``), or summed (``"sum"``: the per-row sum, which adds across data-parallel shards).

    z (N, F), y (N,) int, W (C, F), b (C,) -> (C * F + C,). Differentiable in ``z``.
    """
    p = torch.softmax(z @ W.T + b, dim=1)
    err = p - F.one_hot(y, W.shape[0]).to(p.dtype)
    if reduction == "mean":
        return torch.cat([(err.T @ z / len(z)).flatten(), err.mean(0)])
    if reduction == "sum":
        return torch.cat([(err.T @ z).flatten(), err.sum(0)])
    raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


def matching_loss(g_real: torch.Tensor, g_syn: torch.Tensor) -> torch.Tensor:
    """1 - cosine similarity of two flattened gradients (one cosine over the whole vector)."""
    return 1 - F.cosine_similarity(g_real, g_syn, dim=0)


@dataclass(frozen=True)
class EmbeddingAnchor:
    """Where each class's rows lie: ``means`` (C, F) class-mean real rows, ``scale2`` the rows' mean squared
    distance to their class mean (the anchor's unit), ``crop`` the centre-view side a row is embedded at."""

    means: torch.Tensor
    scale2: float
    crop: int

    @classmethod
    def from_rows(cls, Z: np.ndarray, y: np.ndarray, crop: int) -> EmbeddingAnchor:
        """From real rows ``Z`` (N, F) with labels ``y`` (N,) in [0, C); every class needs a row."""
        Z_t = torch.as_tensor(np.asarray(Z), dtype=torch.float32)
        y_t = torch.as_tensor(np.asarray(y), dtype=torch.long)
        means = torch.stack([Z_t[y_t == c].mean(0) for c in range(int(y_t.max()) + 1)])
        if not torch.isfinite(means).all():
            raise ValueError("EmbeddingAnchor.from_rows: a class has no rows (or the rows hold NaN)")
        return cls(means, float(((Z_t - means[y_t]) ** 2).sum(1).mean()), int(crop))

    def loss(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean over rows of ``||z - means[y]||^2 / scale2``: z (n, F), y (n,) -> scalar (1 for a typical real row)."""
        return ((z - self.means.to(z.device)[y]) ** 2).sum(1).mean() / self.scale2


@dataclass
class DistillResult:
    images: np.ndarray  # (C * ipc, 3, syn_res, syn_res) float32 in [0, 1]
    labels: np.ndarray  # (C * ipc,) int64
    losses: np.ndarray  # (steps,) float32
    snapshots: np.ndarray  # (n_levels, C * ipc, 3, s, s) float32: images right before each growth and at the end
    seconds_per_step: float
    peak_rss_mb: float  # peak resident memory of the whole process so far (CPU runs)


class _State:
    """Everything a resumed run needs: pyramid, optimizer, RNG, losses, snapshots, step, and the
    JSON of the run's identity (config, classes), so a checkpoint of another run is never used."""

    @staticmethod
    def save(path: Path, identity: str, pyramid, opt, gen, step, losses, snapshots) -> bool:
        """Write atomically; on ``OSError`` warn and return False (the run goes on without checkpoints)."""
        state = {
            "identity": identity,
            "levels": [p.detach().cpu() for p in pyramid.levels],
            "opt": opt.state_dict(),
            "rng": gen.get_state(),
            "step": step,
            "losses": torch.tensor(losses),
            "snapshots": [s.clone() for s in snapshots],
        }
        try:
            save_torch_atomic(state, path)
        except OSError as err:
            warnings.warn(f"could not write LGM checkpoint {path} ({err}); continuing without one", stacklevel=3)
            return False
        return True

    @staticmethod
    def load(path: Path, identity: str, discard: bool = True) -> dict | None:
        """The checkpoint at ``path`` if it is readable and of this run; otherwise warn, remove it
        (when ``discard``) and return None, so the run starts afresh."""
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            problem = "" if state.get("identity") == identity else "belongs to another run (config or classes differ)"
        except Exception as err:  # truncated zip, unpickling refused, OSError: all mean "unusable"
            state, problem = None, f"is unreadable ({type(err).__name__}: {err})"
        if not problem:
            return state
        warnings.warn(f"LGM checkpoint {path} {problem}; starting afresh", stacklevel=3)
        if discard:
            path.unlink(missing_ok=True)
        return None


def shard_bounds(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """Contiguous slice ``[lo, hi)`` of ``n`` items for ``rank`` of ``world_size`` (sizes differ by <= 1)."""
    return rank * n // world_size, (rank + 1) * n // world_size


def distill(
    real_images: torch.Tensor,
    real_labels: torch.Tensor,
    n_classes: int,
    features: FrozenFeatures,
    config: DistillConfig,
    *,
    work_dir: str | Path | None = None,
    progress: bool = True,
    stop_after: int | None = None,
    parallel=None,
    anchor: EmbeddingAnchor | None = None,
) -> DistillResult:
    """Run LGM for ``config.steps`` steps (resuming from ``work_dir/checkpoint.pt`` if present).

    ``real_images``: (M, 3, syn_res, syn_res) float in [0, 1] (the real pool, already resized);
    ``real_labels``: (M,) int64 in [0, n_classes). ``stop_after`` ends the run early after that
    many steps (for tests of interruption); the checkpoint then holds the state to resume from.

    ``parallel``: data parallelism (:func:`_parallel_step`; e.g. a
    :class:`icl_support.parallel.collective.Collective`); only rank 0 writes checkpoints. ``anchor``: the class
    means a config with ``anchor`` > 0 pulls the images' centre-view embeddings to (single process only).
    """
    cfg = config
    _check_inputs(real_images, real_labels, n_classes, cfg, parallel, anchor)
    rank = 0 if parallel is None else parallel.rank
    device = features.mean.device
    gen = torch.Generator().manual_seed(cfg.seed)
    run = _Run(
        PyramidImages(n_classes * cfg.ipc, cfg.syn_res, cfg.decorrelate, gen).to(device),
        features, real_images, real_labels, torch.arange(n_classes).repeat_interleave(cfg.ipc).to(device),
        n_classes, cfg, gen, anchor,
    )  # fmt: skip
    weights_before = {k: v.clone() for k, v in features.model.state_dict().items()}
    ckpt = Path(work_dir) / "checkpoint.pt" if work_dir else None
    identity = json.dumps({**config_key(cfg), "n_classes": n_classes}, sort_keys=True)
    start, losses, snapshots, opt = _restore(run, ckpt, identity, discard=rank == 0)
    if parallel is not None:
        _check_same_start(parallel, start, device)
    writes = ckpt is not None and rank == 0
    end = cfg.steps if stop_after is None else min(cfg.steps, start + stop_after)
    bar = tqdm(range(start, end), desc="LGM", disable=not progress or rank != 0, initial=start, total=cfg.steps)
    t0 = time.perf_counter()
    for step in bar:
        if step > 0 and step % cfg.grow_every == 0 and run.pyramid.n_levels < cfg.n_levels:
            snapshots.append(run.snapshot())
            run.pyramid.grow(gen)
            opt = torch.optim.Adam(run.pyramid.parameters(), lr=cfg.lr)
        idx = torch.randint(len(real_images), (cfg.ipc * cfg.augs_per_step * n_classes,), generator=gen)
        loss = _step(run, opt, idx) if parallel is None else _parallel_step(run, opt, idx, parallel)
        opt.step()
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{losses[-1]:.4f}", levels=run.pyramid.n_levels)
        done = step + 1
        if writes and (done % cfg.checkpoint_every == 0 or done == end):
            writes = _State.save(ckpt, identity, run.pyramid, opt, gen, done, losses, snapshots)
    seconds = (time.perf_counter() - t0) / max(1, end - start)
    for k, v in weights_before.items():
        if not torch.equal(features.model.state_dict()[k], v):
            raise RuntimeError(f"backbone weight {k} changed during distillation")
    final = snapshots + [run.snapshot()]
    return DistillResult(
        images=run.pyramid().detach().cpu().numpy().astype(np.float32),
        labels=run.syn_labels.cpu().numpy().astype(np.int64),
        losses=np.asarray(losses, dtype=np.float32),
        snapshots=torch.stack(final).numpy().astype(np.float32),
        seconds_per_step=seconds,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # Linux: KiB
    )


def _check_inputs(real_images, real_labels, n_classes: int, cfg: DistillConfig, parallel, anchor) -> None:
    """Raise ``ValueError`` naming what is wrong with :func:`distill`'s inputs."""
    if cfg.anchor > 0 and anchor is None:
        raise ValueError(f"DistillConfig.anchor={cfg.anchor} needs an EmbeddingAnchor (the class means to pull to)")
    if cfg.anchor > 0 and parallel is not None:
        raise ValueError("anchored LGM runs in one process only (parallel=None)")
    if anchor is not None and anchor.means.shape[0] != n_classes:
        raise ValueError(f"the anchor has {anchor.means.shape[0]} class means, expected {n_classes}")
    if real_images.ndim != 4 or real_images.shape[1:] != (3, cfg.syn_res, cfg.syn_res):
        raise ValueError(f"real_images must be (M, 3, {cfg.syn_res}, {cfg.syn_res}), got {tuple(real_images.shape)}")
    if real_labels.shape != real_images.shape[:1] or int(real_labels.max()) >= n_classes or int(real_labels.min()) < 0:
        raise ValueError(f"real_labels must be (M,) ints in [0, {n_classes}), got shape {tuple(real_labels.shape)}")
    if not torch.isfinite(real_images).all():
        raise ValueError(f"real_images hold {int((~torch.isfinite(real_images)).sum())} NaN/inf values")
    missing = set(range(n_classes)) - set(real_labels.tolist())
    if missing:
        raise ValueError(f"classes {sorted(missing)} have no real images")
    n_real = cfg.ipc * cfg.augs_per_step * n_classes  # also the number of augmented synthetic images
    if parallel is not None and not 1 <= parallel.world_size <= n_real:
        raise ValueError(f"world_size must be in [1, {n_real}] (images per step), got {parallel.world_size}")


@dataclass
class _Run:
    """What every LGM step reads: the images being learnt, the frozen backbone, the real pool and the generator
    all randomness is drawn from (in the same order on every rank and after a resume)."""

    pyramid: PyramidImages
    features: FrozenFeatures
    real_images: torch.Tensor  # (M, 3, syn_res, syn_res) in [0, 1]
    real_labels: torch.Tensor  # (M,)
    syn_labels: torch.Tensor  # (C * ipc,) on the device
    n_classes: int
    cfg: DistillConfig
    gen: torch.Generator
    anchor: EmbeddingAnchor | None

    def snapshot(self) -> torch.Tensor:
        """The images now, at ``snapshot_res`` px, on the CPU."""
        with torch.no_grad():
            return F.interpolate(self.pyramid(), size=self.cfg.snapshot_res, mode="bilinear", antialias=True).cpu()

    def head(self, width: int, device) -> tuple[torch.Tensor, torch.Tensor]:
        """This step's random linear head (W, b): W (C, width) ~ N(0, head_std^2), b = 0."""
        W = self.cfg.head_std * torch.randn(self.n_classes, width, generator=self.gen).to(device)
        return W, torch.zeros(self.n_classes, device=device)


def _restore(run: _Run, ckpt: Path | None, identity: str, discard: bool):
    """Resume ``run`` from ``ckpt`` when it holds this run's state: ``(start step, losses, snapshots, optimizer)``
    (step 0, empty lists and a fresh Adam otherwise)."""
    state = _State.load(ckpt, identity, discard=discard) if ckpt is not None and ckpt.exists() else None
    if state is None:
        return 0, [], [], torch.optim.Adam(run.pyramid.parameters(), lr=run.cfg.lr)
    while run.pyramid.n_levels < len(state["levels"]):
        run.pyramid.grow(torch.Generator())  # shape only; values are overwritten below
    with torch.no_grad():
        for p, saved in zip(run.pyramid.levels, state["levels"], strict=True):
            p.copy_(saved)
    run.gen.set_state(state["rng"])
    opt = torch.optim.Adam(run.pyramid.parameters(), lr=run.cfg.lr)
    if state["step"]:
        opt.load_state_dict(state["opt"])
    return state["step"], state["losses"].tolist(), list(state["snapshots"]), opt


def _step(run: _Run, opt, idx: torch.Tensor) -> torch.Tensor:
    """One single-process LGM step up to the optimizer: fills the pyramid's gradients, returns the matching loss."""
    cfg, features = run.cfg, run.features
    device = features.mean.device
    with torch.no_grad():
        x_real = augment(run.real_images[idx].to(device), cfg.crop_res, run.gen, cfg.noise_mean, cfg.noise_std)
        z_real = features(x_real)
        W, b = run.head(z_real.shape[1], device)
        g_real = head_gradient(z_real, run.real_labels[idx].to(device), W, b)
    syn = run.pyramid().repeat(cfg.augs_per_step, 1, 1, 1)
    x_syn = augment(syn, cfg.crop_res, run.gen, cfg.noise_mean, cfg.noise_std)
    g_syn = head_gradient(features(x_syn), run.syn_labels.repeat(cfg.augs_per_step), W, b)
    loss = matching_loss(g_real, g_syn)
    total = loss
    if cfg.anchor > 0:
        z_view = features(center_view(syn[: len(run.syn_labels)], run.anchor.crop))
        total = loss + cfg.anchor * run.anchor.loss(z_view, run.syn_labels)
    opt.zero_grad(set_to_none=True)
    total.backward()
    return loss


def _check_same_start(parallel, start: int, device: torch.device) -> None:
    """Raise unless every rank resumes from the same step (they all read rank 0's checkpoint)."""
    sums = torch.tensor([start, start**2], dtype=torch.float64, device=device)
    parallel.all_reduce_sum_(sums)  # all equal iff W * sum(s^2) == sum(s)^2, so every rank reaches the same verdict
    parallel.barrier()  # nobody trains (and rank 0 overwrites the checkpoint) before all have read it
    total, squares = sums.tolist()
    if parallel.world_size * squares != total**2:
        raise RuntimeError(
            f"data-parallel ranks resume from different steps (this rank {parallel.rank}: {start}); "
            "work_dir must be one folder shared by all ranks"
        )


def _parallel_step(run: _Run, opt, idx: torch.Tensor, parallel) -> torch.Tensor:
    """One data-parallel LGM step up to the optimizer: fills the pyramid's gradients (identical on
    every rank) and returns the loss. Consumes ``run.gen`` exactly as the single-process step does.

    ``parallel``: an object with ``rank``, ``world_size``, ``all_reduce_sum_(tensor)`` and ``barrier()``. Every rank
    draws the whole step's randomness from the same generator and computes only its contiguous slice of the real
    batch and of the K augmented synthetic copies; the head-gradient sums and the image gradients are all-reduced,
    so every rank holds the same images."""
    cfg, features, syn_labels = run.cfg, run.features, run.syn_labels
    device, K = features.mean.device, cfg.augs_per_step
    n_real = len(idx)
    lo, hi = shard_bounds(n_real, parallel.rank, parallel.world_size)
    with torch.no_grad():
        draw_real = draw_augment(n_real, cfg.crop_res, run.gen, cfg.noise_mean, cfg.noise_std)
        mine = idx[lo:hi]
        z_real = features(apply_augment(run.real_images[mine].to(device), draw_real[lo:hi]))
        W, b = run.head(z_real.shape[1], device)
        g_real = head_gradient(z_real, run.real_labels[mine].to(device), W, b, reduction="sum")
        parallel.all_reduce_sum_(g_real)
        g_real = g_real / n_real
    n_aug = K * len(syn_labels)
    draw_syn = draw_augment(n_aug, cfg.crop_res, run.gen, cfg.noise_mean, cfg.noise_std)
    lo, hi = shard_bounds(n_aug, parallel.rank, parallel.world_size)
    syn = run.pyramid().repeat(K, 1, 1, 1)[lo:hi]
    z_syn = features(apply_augment(syn, draw_syn[lo:hi]))
    s_mine = head_gradient(z_syn, syn_labels.repeat(K)[lo:hi], W, b, reduction="sum")
    s_all = s_mine.detach().clone()
    parallel.all_reduce_sum_(s_all)
    s_all.requires_grad_(True)
    loss = matching_loss(g_real, s_all / n_aug)
    (grad_s,) = torch.autograd.grad(loss, s_all)  # the same on every rank
    opt.zero_grad(set_to_none=True)
    s_mine.backward(grad_s)  # this rank's share of d loss / d pixels
    params = list(run.pyramid.parameters())
    flat = torch.cat([p.grad.flatten() for p in params])
    parallel.all_reduce_sum_(flat)
    for p, g in zip(params, flat.split([p.numel() for p in params]), strict=True):
        p.grad.copy_(g.view_as(p))
    return loss


def config_key(cfg: DistillConfig) -> dict:
    """The cache/checkpoint identity of ``cfg``: every field that changes the images (``anchor`` enters only when
    set); not ``checkpoint_every``, since a resumed run is the uninterrupted run (tested)."""
    view = {k: v for k, v in asdict(cfg).items() if k != "checkpoint_every"}
    if not cfg.anchor:
        del view["anchor"]
    return {"kind": "lgm/v2", **view}
