"""This process's place in a ``torch.distributed`` process group (NCCL on GPUs, gloo on CPUs), or a one-process
stand-in whose collectives are no-ops: what data-parallel LGM (:func:`icl_support.contexts.pixel_lgm.distill`,
``parallel=``) and sharded embedding (:mod:`icl_support.parallel.sharded_embedding`) exchange through.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist


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
