"""Scale-out under ``torchrun``: sharded embedding into the cache, data-parallel LGM.

One process per device, a ``torch.distributed`` process group (NCCL on GPUs, gloo on CPUs),
started by ``torchrun``; the same commands run plain (one process, no process group)::

    torchrun --nproc_per_node 4 -m icl_support.book.distributed embed --profile paper --split both
    torchrun --nproc_per_node 4 -m icl_support.book.distributed distill --profile paper
    python -m icl_support.book.distributed embed --dataset digits --n-images 200 --image-size 32 --cache-dir /tmp/c

Embedding: rank ``r`` embeds a contiguous shard of the requested indices (shard edges on batch
boundaries, so every batch is the one a single process would form) into its own shard file in the
cache, keyed like the full file plus the shard's span and written atomically by
:mod:`icl_support.core.cache`. After a barrier rank 0 reads the shards (embedding any that is missing or
corrupt itself), writes the exact file :func:`icl_support.embedding.embed.embed_images` writes, and removes
the shards. The cache folder must be shared by all ranks (one machine, or a shared file system).

Distillation: :func:`icl_support.contexts.pixel_lgm.distill` with ``parallel=`` a :class:`Collective`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import yaml

from ..core.cache import load_arrays, load_or_none, save_arrays
from ..data.datasets import ImageDataset
from ..embedding.backbones import Backbone
from ..embedding.embed import check_indices, embed_images, embed_to_cache, embedding_key, embedding_path


@dataclass(frozen=True)
class Collective:
    """This process's place in the process group; with ``world_size == 1`` every collective is a no-op.

    ``device``: where collective tensors live (the rank's GPU under NCCL, ``cpu`` under gloo).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def all_reduce_sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum ``tensor`` over all ranks, in place; returns it."""
        if self.world_size > 1:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()

    def all_true(self, flag: bool) -> bool:
        """True when ``flag`` is true on every rank (the same answer on all ranks)."""
        t = torch.tensor([float(bool(flag))], device=self.device)
        return int(self.all_reduce_sum_(t).item()) == self.world_size


def init_from_env(device: str = "auto", timeout_s: float = 3600.0) -> tuple[Collective, torch.device]:
    """Join the process group ``torchrun`` describes in ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``.

    Without ``WORLD_SIZE`` (or with 1): a one-process :class:`Collective`, no process group. With
    CUDA, rank ``r`` uses ``cuda:LOCAL_RANK`` and NCCL; on CPU, gloo. ``device``: ``auto``, ``cpu``
    or ``cuda`` (an explicit ``cuda:N`` is refused with several ranks: they would share one GPU).
    ``timeout_s``: how long a collective (e.g. the barrier while the slowest rank embeds) may wait.
    Returns the collective and this rank's device.
    """
    from ..core.device import resolve_device

    dev = resolve_device(device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Collective(device=str(dev)), dev
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if dev.type == "cuda":
        if dev.index is not None:
            raise ValueError(f"device {device!r} names one GPU but {world} ranks run; use device 'cuda' or 'auto'")
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
    return Collective(rank, world, local_rank, str(dev)), dev


def shutdown() -> None:
    """Leave the process group (no-op without one)."""
    if dist.is_initialized():
        dist.destroy_process_group()


# --------------------------------------------------------------------------- sharded embedding


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
            self.batch_size,
            self.chunk_size,
            self.num_workers,
            self.progress,
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
            job.ds, indices, job.backbone, job.cache_dir, job.batch_size, job.chunk_size, job.num_workers, job.progress
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


# --------------------------------------------------------------------------- command line


def _settings(args, chapter: str = ""):
    from ..core.config import resolve_settings

    overrides = {name: yaml.safe_load(value) for name, value in args.parameter}
    for flag, name in (
        ("dataset", "dataset"),
        ("data_root", "data_root"),
        ("backbone", "backbone"),
        ("image_size", "image_size"),
        ("cache_dir", "cache_dir"),
        ("device", "device"),
        ("seed", "seed"),
        ("batch_size", "embed_batch_size"),
    ):
        if getattr(args, flag, None) is not None:
            overrides[name] = getattr(args, flag)
    if getattr(args, "n", None) is not None:
        overrides.update(n_train=args.n, n_test=args.n)
    return resolve_settings(args.profile, chapter, **overrides)


def _cmd_embed(args) -> dict:
    from ..core.config import with_overrides
    from ..embedding.backbones import create_backbone
    from ..embedding.tables import load_splits

    s = _settings(args)
    collective, device = init_from_env(s.device, args.timeout)
    s = with_overrides(s, device=str(device))
    train, test, idx_train, idx_test = load_splits(s)
    backbone = create_backbone(s.backbone, s.image_size, device)
    wanted = {"train": (train, idx_train), "test": (test, idx_test)}
    out = {"world_size": collective.world_size, "files": {}}
    for split in ("train", "test") if args.split == "both" else (args.split,):
        ds, idx = wanted[split]
        job = EmbedJob(ds, idx, backbone, s.cache_path, s.embed_batch_size, args.chunk_size, 0, collective.is_main)
        X = embed_distributed(job, collective)
        out["files"][split] = {"path": str(job.path), "shape": list(X.shape)}
    return out


def _cmd_distill(args) -> dict:
    from ..contexts.lgm_images import distilled_images
    from ..core.config import with_overrides
    from ..embedding.image_pool import prepare_images

    s = _settings(args, chapter="lgm")
    collective, device = init_from_env(s.device, args.timeout)
    s = with_overrides(s, device=str(device))
    if not collective.is_main:  # rank 0 embeds the real pool into the cache first; the others read it
        collective.barrier()
    data = prepare_images(s, progress=collective.is_main)
    if collective.is_main:
        collective.barrier()
    lgm = distilled_images(s, data, progress=collective.is_main, parallel=collective)
    return {
        "world_size": collective.world_size,
        "images": list(lgm["images"].shape),
        "loss_first": float(lgm["losses"][0]),
        "loss_last": float(lgm["losses"][-1]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m icl_support.book.distributed", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (
        ("embed", "embed a split's class-balanced pool into the cache (as the notebooks do)"),
        ("distill", "LGM images of chapters 3-4 into the cache (data-parallel under torchrun)"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--profile", default="demo", help="smoke, demo or paper (default demo)")
        p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
        p.add_argument("--dataset")
        p.add_argument("--data-root", dest="data_root")
        p.add_argument("--backbone")
        p.add_argument("--image-size", dest="image_size", type=int)
        p.add_argument("--cache-dir", dest="cache_dir")
        p.add_argument("--device")
        p.add_argument("--seed", type=int)
        p.add_argument("--n-images", dest="n", type=int, help="n_train and n_test (class-balanced subset sizes)")
        p.add_argument("--timeout", type=float, default=3600.0, help="collective timeout, seconds")
    emb = sub.choices["embed"]
    emb.add_argument("--split", choices=("train", "test", "both"), default="both")
    emb.add_argument("--batch-size", dest="batch_size", type=int)
    emb.add_argument("--chunk-size", dest="chunk_size", type=int, default=2048)
    args = parser.parse_args(argv)
    try:
        summary = (_cmd_embed if args.command == "embed" else _cmd_distill)(args)
    except (ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        shutdown()
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
