"""Batched, cached, resumable embedding of dataset images by a frozen backbone.

The cache file is keyed by everything that determines the rows: the dataset's content id and
split, the exact indices, the backbone's name, weights, eval transform and feature kind. Work is
done in chunks; each finished chunk is written atomically, so an interrupted run resumes where it
stopped. Usage::

    X = embed_images(ds, idx, backbone, cache_dir)     # (len(idx), F) float32
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from ..core.cache import key_digest, load_or_none, save_arrays
from ..data.datasets import ImageDataset
from .backbones import Backbone


class _Transformed(Dataset):
    def __init__(self, ds: ImageDataset, indices: np.ndarray, transform):
        self.ds, self.indices, self.transform = ds, indices, transform

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.transform(self.ds[int(self.indices[i])][0])


def embedding_key(ds: ImageDataset, indices: np.ndarray, backbone: Backbone) -> dict:
    indices = np.asarray(indices, dtype=np.int64)
    return {
        "kind": "embeddings/v1",
        "dataset": ds.source_id,
        "split": ds.split,
        "n": len(indices),
        "indices_sha256": hashlib.sha256(indices.tobytes()).hexdigest(),
        **backbone.identity(),
        "dtype": "float32",
    }


def embedding_path(cache_dir: Path, ds: ImageDataset, backbone: Backbone, key: dict) -> Path:
    return Path(cache_dir) / "embeddings" / f"{ds.name}-{ds.split}-{backbone.name}-{key_digest(key)}.npz"


def embed_images(
    ds: ImageDataset,
    indices: np.ndarray,
    backbone: Backbone,
    cache_dir: str | Path,
    *,
    batch_size: int = 64,
    chunk_size: int = 2048,
    num_workers: int = 0,
    progress: bool = True,
) -> np.ndarray:
    """Embeddings ``(len(indices), F)`` float32 of ``ds[indices]``, from the cache when present.

    ``indices``: 1-D ints in ``[0, len(ds))``. Raises ``ValueError`` on bad indices and if the
    backbone returns non-finite values (the chunk is not cached).
    """
    indices = check_indices(indices, len(ds), f"{ds.name}/{ds.split}")
    key = embedding_key(ds, indices, backbone)
    path = embedding_path(Path(cache_dir), ds, backbone, key)
    return embed_to_cache(
        ds,
        indices,
        backbone,
        path,
        key,
        batch_size=batch_size,
        chunk_size=chunk_size,
        num_workers=num_workers,
        progress=progress,
    )


def check_indices(indices, n_items: int, name: str) -> np.ndarray:
    """``indices`` as int64 ``(n,)``; ``ValueError`` unless a non-empty 1-D integer array in ``[0, n_items)``."""
    arr = np.asarray(indices)
    if arr.ndim != 1 or len(arr) == 0:
        raise ValueError(f"{name}: indices must be a non-empty 1-D array, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name}: indices must be integers, got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() >= n_items:
        raise ValueError(f"{name}: indices must be in [0, {n_items}), got min {arr.min()} and max {arr.max()}")
    return arr.astype(np.int64)


def embed_to_cache(
    ds: ImageDataset,
    indices: np.ndarray,
    backbone: Backbone,
    path: Path,
    key: dict,
    *,
    batch_size: int = 64,
    chunk_size: int = 2048,
    num_workers: int = 0,
    progress: bool = True,
) -> np.ndarray:
    """Embed ``ds[indices]`` into the cache file ``path`` under ``key`` (returned from it when present).

    Work is done in chunks of ``chunk_size`` images, each a batch sequence of ``batch_size``
    starting at the chunk's first image; a finished chunk is saved next to ``path`` as
    ``<stem>.partNNNNN.npz`` (so an interrupted run resumes) and the parts are removed once
    ``path`` is written. Returns ``(len(indices), F)`` float32. Used by :func:`embed_images` and,
    for one rank's shard, by :mod:`icl_support.parallel.sharded_embedding`.
    """
    indices = np.asarray(indices, dtype=np.int64)
    path = Path(path)
    hit = load_or_none(path, key)
    if hit is not None:
        return hit["features"]
    device = next(backbone.model.parameters()).device
    n_chunks = max(1, math.ceil(len(indices) / chunk_size))
    parts = []
    bar = tqdm(
        total=len(indices), desc=f"embed {ds.name}/{ds.split} with {backbone.name}", disable=not progress, unit="img"
    )
    for c in range(n_chunks):
        chunk = indices[c * chunk_size : (c + 1) * chunk_size]
        part_key = {**key, "chunk": c, "chunk_size": chunk_size}
        part_path = path.with_name(f"{path.stem}.part{c:05d}.npz")
        done = load_or_none(part_path, part_key)
        if done is None:
            loader = DataLoader(
                _Transformed(ds, chunk, backbone.transform), batch_size=batch_size, num_workers=num_workers
            )
            feats = []
            for images in loader:
                feats.append(backbone.embed(images.to(device)).cpu().numpy())
                bar.update(len(images))
            features = np.concatenate(feats).astype(np.float32)
            if not np.isfinite(features).all():
                raise ValueError(
                    f"backbone {backbone.name} gave non-finite embeddings for {ds.name}/{ds.split} chunk {c}"
                )
            if n_chunks > 1:
                save_arrays(part_path, part_key, features=features)
        else:
            features = done["features"]
            bar.update(len(chunk))
        parts.append(features)
    bar.close()
    features = np.concatenate(parts)
    if save_arrays(path, key, features=features):
        for c in range(n_chunks):
            path.with_name(f"{path.stem}.part{c:05d}.npz").unlink(missing_ok=True)
    return features
