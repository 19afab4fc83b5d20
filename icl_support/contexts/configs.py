"""Every distillation's hyper-parameters, derived from the run's settings in one place.

``pixel_lgm_config``   LGM images (:mod:`.pixel_lgm`): the pyramid grows on the reference schedule
                       (a level every 200 of 5,000 steps) scaled to ``distill_steps``; the seed is the
                       reference code's (3407) offset by the run's seed; ``anchor`` > 0 adds the
                       class-mean anchor (anchored LGM).
``row_lgm_config``     embedding-space LGM (:mod:`.row_lgm`) at ``ipc`` rows per class.
``tabicl_lgm_config``  rows optimised through TabICL (:mod:`.tabicl_lgm`) at ``ipc`` rows per class.
``tabicl_pixels_config`` images optimised through the backbone, the PCA and TabICL (:mod:`.tabicl_pixels`), as
                       many steps as ``tabicl_lgm``; ``anchor`` > 0 adds the class-mean anchor.
"""

from __future__ import annotations

from ..core.config import Settings
from .pixel_lgm import DistillConfig
from .row_lgm import RowDistillConfig
from .tabicl_lgm import TabICLDistillConfig
from .tabicl_pixels import TabICLPixelConfig

REFERENCE_STEPS = DistillConfig.steps  # LGM's reference schedule: 5,000 steps ...
REFERENCE_GROW_EVERY = DistillConfig.grow_every  # ... with a pyramid level added every 200 steps
REFERENCE_SEED = DistillConfig.seed  # the reference code's seed; a run's seed offsets it


def pixel_lgm_config(
    s: Settings, ipc: int | None = None, anchor: float = 0.0, seed: int | None = None
) -> DistillConfig:
    """LGM settings of a run at ``ipc`` images per class (default ``s.ipc``), anchored with weight ``anchor``,
    seeded by ``seed`` (default: the run's seed) offset by the reference seed."""
    return DistillConfig(
        ipc=s.ipc if ipc is None else ipc,
        steps=s.distill_steps,
        lr=s.distill_lr,
        augs_per_step=s.distill_augs,
        syn_res=s.distill_res,
        crop_res=s.lgm_crop,
        grow_every=max(1, round(REFERENCE_GROW_EVERY * s.distill_steps / REFERENCE_STEPS)),
        noise_mean=s.noise_mean,
        checkpoint_every=max(1, min(100, s.distill_steps // 10)),  # about ten resume points a run, at most 100 apart
        seed=(s.seed if seed is None else seed) + REFERENCE_SEED,
        anchor=float(anchor),
    )


def row_lgm_config(s: Settings, ipc: int, seed: int) -> RowDistillConfig:
    """Embedding-space LGM at ``ipc`` rows per class, seeded by ``seed``."""
    return RowDistillConfig(ipc=ipc, steps=s.row_distill_steps, lr=s.row_distill_lr, seed=seed)


def tabicl_lgm_config(s: Settings, ipc: int) -> TabICLDistillConfig:
    """TabICL-aware rows at ``ipc`` rows per class (one run, seeded by the run's seed)."""
    return TabICLDistillConfig(ipc=ipc, steps=s.tabicl_distill_steps, seed=s.seed)


def tabicl_pixels_config(s: Settings, ipc: int, anchor: float = 0.0, seed: int | None = None) -> TabICLPixelConfig:
    """TabICL-aware images at ``ipc`` per class, as many steps as the TabICL-aware rows, seeded by ``seed``
    (default: the run's seed)."""
    return TabICLPixelConfig(
        ipc=ipc, steps=s.tabicl_distill_steps, anchor=anchor, seed=s.seed if seed is None else seed
    )
