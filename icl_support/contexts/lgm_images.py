"""A run's LGM images: distilled once from the run's real pool, cached on disk, resumed when interrupted.

Usage::

    lgm = distilled_images(settings, data)          # data: icl_support.embedding.image_pool.ImageData
    lgm["images"]                                   # (C * ipc, 3, side, side) float32 in [0, 1]
"""

from __future__ import annotations

import numpy as np
import torch

from ..core.cache import key_digest, load_or_none, save_arrays
from ..core.config import Settings
from ..embedding.image_pool import ImageData
from .configs import pixel_lgm_config
from .pixel_lgm import EmbeddingAnchor, config_key, distill


def distilled_images(
    s: Settings,
    data: ImageData,
    *,
    progress: bool = True,
    parallel=None,
    ipc: int | None = None,
    anchor: float = 0.0,
    seed: int | None = None,
) -> dict[str, np.ndarray]:
    """LGM images for ``data``'s pool at ``ipc`` per class (default ``s.ipc``; cached; an interrupted run
    resumes from its checkpoint). ``anchor`` > 0: anchored LGM, pulled towards the class means of ``data``'s
    pool rows (:class:`~icl_support.contexts.pixel_lgm.EmbeddingAnchor`) with that weight. ``seed``: the
    distillation's seed (default: the run's; see :func:`~icl_support.contexts.configs.pixel_lgm_config`).

    ``parallel``: data-parallel ranks (see :func:`icl_support.contexts.pixel_lgm.distill`); only rank 0 writes.
    Keys: ``images`` (C*ipc, 3, side, side), ``labels``, ``losses`` (steps,), ``snapshots``
    (levels, C*ipc, 3, 64, 64), ``seconds_per_step``, ``peak_rss_mb``.
    """
    cfg = pixel_lgm_config(s, ipc, anchor, seed)
    key = {**config_key(cfg), **data.key}
    kind = "distilled-anchored" if anchor else "distilled"
    path = s.cache_path / "lgm" / f"{kind}-{s.dataset}-{key_digest(key)}.npz"
    hit = load_or_none(path, key)
    if hit is not None:
        return hit
    n_classes = len(data.classes)
    r = distill(
        data.pool,
        torch.as_tensor(data.y_pool),
        n_classes,
        data.features,
        cfg,
        work_dir=path.with_suffix(".work"),
        progress=progress,
        parallel=parallel,
        anchor=EmbeddingAnchor.from_rows(data.Z_pool, data.y_pool, data.crop) if anchor else None,
    )
    out = {
        "images": r.images,
        "labels": r.labels,
        "losses": r.losses,
        "snapshots": r.snapshots,
        "seconds_per_step": np.array(r.seconds_per_step),
        "peak_rss_mb": np.array(r.peak_rss_mb),
    }
    if (parallel is None or parallel.rank == 0) and save_arrays(path, key, **out):
        (path.with_suffix(".work") / "checkpoint.pt").unlink(missing_ok=True)  # finished: resume state not needed
    return out
