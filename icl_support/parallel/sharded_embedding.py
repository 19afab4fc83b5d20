"""Sharded embedding under ``torchrun``: each rank embeds a contiguous shard into the cache, rank 0 merges.

Rank ``r`` embeds a contiguous shard of the requested indices (shard edges on batch boundaries, so every batch is
the one a single process would form) into its own shard file in the cache, keyed like the full file plus the
shard's span and written atomically by :mod:`icl_support.core.cache`. After a barrier rank 0 reads the shards
(embedding any that is missing or corrupt itself), writes the exact file
:func:`icl_support.embedding.embed.embed_images` writes, and removes the shards. The cache folder must be shared by
all ranks (one machine, or a shared file system).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..core.cache import load_arrays, load_or_none, save_arrays
from ..data.datasets import ImageDataset
from ..embedding.backbones import Backbone
from ..embedding.embed import check_indices, embed_images, embed_to_cache, embedding_key, embedding_path
from .collective import Collective


def shard_spans(n: int, world_size: int, batch_size: int, chunk_size: int) -> list[tuple[int, int]]:
    """Contiguous ``[start, stop)`` spans of ``n`` items, one per rank, covering ``0..n`` in order.

    Edges fall on multiples of ``batch_size`` (of ``chunk_size`` when it is not a multiple of
    ``batch_size``), so each rank forms exactly the batches a single process would: the backbone
    then sees identical batches and gives identical numbers. Trailing ranks may get empty spans.
    """
    if world_size < 1 or batch_size < 1 or chunk_size < 1:
        raise ValueError(
            f"world_size, batch_size and chunk_size must be >= 1, got {world_size}, {batch_size}, {chunk_size}"
        )
    unit = batch_size if chunk_size % batch_size == 0 else chunk_size
    n_units = math.ceil(n / unit)
    edges = [min(n, r * n_units // world_size * unit) for r in range(world_size + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def shard_key(key: dict, span: tuple[int, int]) -> dict:
    """The full file's key plus the shard's span (positions in the requested index list)."""
    return {**key, "shard_start": span[0], "shard_stop": span[1]}


def shard_path(path: Path, span: tuple[int, int]) -> Path:
    """``<full stem>.shard<start>-<stop>.npz`` next to the full file."""
    return path.with_name(f"{path.stem}.shard{span[0]:09d}-{span[1]:09d}.npz")


@dataclass(frozen=True)
class EmbedJob:
    """One embedding request: ``ds[indices]`` through ``backbone`` into ``cache_dir``."""

    ds: ImageDataset
    indices: np.ndarray
    backbone: Backbone
    cache_dir: Path
    batch_size: int = 64
    chunk_size: int = 2048
    num_workers: int = 0
    progress: bool = True

    @property
    def key(self) -> dict:
        return embedding_key(self.ds, self.indices, self.backbone)

    @property
    def path(self) -> Path:
        return embedding_path(Path(self.cache_dir), self.ds, self.backbone, self.key)

    def spans(self, world_size: int) -> list[tuple[int, int]]:
        return shard_spans(len(self.indices), world_size, self.batch_size, self.chunk_size)

    def embed_span(self, span: tuple[int, int]) -> np.ndarray:
        """Embeddings ``(stop - start, F)`` of the span, from / into its shard file (resumable)."""
        return embed_to_cache(
            self.ds,
            self.indices[span[0] : span[1]],
            self.backbone,
            shard_path(self.path, span),
            shard_key(self.key, span),
            batch_size=self.batch_size,
            chunk_size=self.chunk_size,
            num_workers=self.num_workers,
            progress=self.progress,
        )


def embed_shard(job: EmbedJob, rank: int, world_size: int) -> bool:
    """Rank ``rank``'s part of the job: embed its span into its shard file.

    Returns True when the shard file is on disk (or the span is empty), False when it could not be
    written (the cache folder is not writable).
    """
    span = job.spans(world_size)[rank]
    if span[0] == span[1]:
        return True
    job.embed_span(span)
    return shard_path(job.path, span).exists()


def merge_shards(job: EmbedJob, world_size: int) -> np.ndarray:
    """Rank 0, after every rank's :func:`embed_shard`: the full ``(n, F)`` array, written to the
    job's cache file (the one a single process writes); the shard files are then removed.

    A shard that is missing or fails its checksum (an interrupted or crashed rank) is embedded here,
    never silently used.
    """
    parts = []
    for span in job.spans(world_size):
        if span[0] == span[1]:
            continue
        if not shard_path(job.path, span).exists():
            warnings.warn(f"shard {span} of {job.path.name} is missing; embedding it on this rank", stacklevel=2)
        parts.append(job.embed_span(span))  # reads the shard; recomputes a missing or corrupt one
    features = np.concatenate(parts)
    if save_arrays(job.path, job.key, features=features):
        for span in job.spans(world_size):
            shard_path(job.path, span).unlink(missing_ok=True)
    return features


def embed_distributed(job: EmbedJob, collective: Collective) -> np.ndarray:
    """``embed_images`` over all ranks of ``collective``: every rank returns the same ``(n, F)``
    float32 array, and the cache holds the file a single-process run writes.

    Raises ``RuntimeError`` on every rank when a shard could not be written (cache not writable or
    not shared), since ranks exchange shards through the cache.
    """
    indices = check_indices(job.indices, len(job.ds), f"{job.ds.name}/{job.ds.split}")
    job = replace(job, indices=indices, cache_dir=Path(job.cache_dir))
    if collective.world_size == 1:
        return embed_images(
            job.ds,
            indices,
            job.backbone,
            job.cache_dir,
            batch_size=job.batch_size,
            chunk_size=job.chunk_size,
            num_workers=job.num_workers,
            progress=job.progress,
        )
    hit = load_or_none(job.path, job.key)
    if collective.all_true(hit is not None):
        return hit["features"]
    wrote = embed_shard(job, collective.rank, collective.world_size)
    if not collective.all_true(wrote):
        raise RuntimeError(
            f"a rank could not write its shard under {job.cache_dir}: sharded embedding exchanges shards through "
            "the cache, so cache_dir must be a writable folder shared by all ranks"
        )
    collective.barrier()
    features = merge_shards(job, collective.world_size) if collective.is_main else None
    collective.barrier()
    if features is None:
        features = load_arrays(job.path, job.key)
        if features is None:
            raise RuntimeError(f"rank 0 did not write {job.path}; is cache_dir {job.cache_dir} shared by all ranks?")
        features = features["features"]
    return features
