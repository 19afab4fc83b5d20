"""The real image pool of chapters 3-6: class-balanced pool and test images as tensors, and their
centre-view embeddings through the frozen backbone (cached).

Usage::

    data = prepare_images(settings)   # ImageData: pool images, Z_pool, Z_test, ...
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from ..core.cache import key_digest, load_or_none, save_arrays
from ..core.config import Settings
from ..core.device import resolve_device
from ..data.images import load_images
from .backbones import create_backbone
from .frozen import FrozenFeatures, embed_tensors
from .tables import load_splits


@dataclass(kw_only=True)
class ImageData:
    """Real pool and test images (N, 3, side, side) in [0, 1], their centre-view embeddings (N, F)."""

    features: FrozenFeatures
    classes: tuple[str, ...]
    pool: torch.Tensor
    y_pool: np.ndarray
    Z_pool: np.ndarray
    Z_test: np.ndarray
    y_test: np.ndarray
    key: dict
    crop: int


def prepare_images(s: Settings, progress: bool = True) -> ImageData:
    """Load the class-balanced pool and test images and embed them (embeddings cached)."""
    cache = s.cache_path
    train, test, idx_pool, idx_test = load_splits(s)
    crop = s.lgm_crop
    device = resolve_device(s.device)
    features = FrozenFeatures(create_backbone(s.backbone, crop, device)).to(device)
    key = {
        "kind": "lgm-images/v1",
        "train": train.source_id,
        "test": test.source_id,
        "side": s.distill_res,
        "crop": crop,
        "pool": hashlib.sha256(idx_pool.tobytes()).hexdigest(),
        "test_idx": hashlib.sha256(idx_test.tobytes()).hexdigest(),
        **features.identity,
    }
    pool = load_images(train, idx_pool, s.distill_res, progress)
    path = cache / "lgm" / f"embeddings-{s.dataset}-{key_digest(key)}.npz"
    hit = load_or_none(path, key)
    if hit is None:
        hit = {
            "pool": embed_tensors(features, pool, crop),
            "test": embed_tensors(features, load_images(test, idx_test, s.distill_res, progress), crop),
        }
        save_arrays(path, key, **hit)
    return ImageData(
        features=features,
        classes=train.classes,
        pool=pool,
        y_pool=train.targets[idx_pool],
        Z_pool=hit["pool"],
        Z_test=hit["test"],
        y_test=test.targets[idx_test],
        key=key,
        crop=crop,
    )
