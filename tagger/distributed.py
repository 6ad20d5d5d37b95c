"""Data-parallel training across processes (``torchrun``), with DistributedDataParallel.

``torchrun --nproc-per-node N -m tagger train ...`` starts N copies of the command; each
reads ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` from the environment and joins one process
group (gloo on CPU, NCCL on CUDA). Every rank draws the same epoch of length-bucketed
batches from the same seed and takes every N-th one, the list cut to a multiple of N, so
all ranks run the same number of steps and none waits for a batch that never comes.
Gradients are averaged by DDP, so the weights stay identical on every rank; only rank 0
evaluates on dev, logs and writes the model directory, and it tells the others when to
stop.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import nn

T = TypeVar("T")


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        """The rank that evaluates, logs and writes."""
        return self.rank == 0


def world_from_env() -> World:
    """The process's place in a ``torchrun`` launch (a single process without one)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    return World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))


def init(world: World, device: torch.device) -> None:
    """Join the process group: NCCL for CUDA, gloo for CPU."""
    if world.distributed and not torch.distributed.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        torch.distributed.init_process_group(backend, rank=world.rank, world_size=world.size)


def close(world: World) -> None:
    if world.distributed and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def wrap(model: nn.Module, world: World, device: torch.device) -> nn.Module:
    """The model as the training loop calls it: DDP across ranks, else itself."""
    if not world.distributed:
        return model
    ids = [device.index] if device.type == "cuda" and device.index is not None else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def rank_batches(batches: Sequence[T], world: World) -> list[T]:
    """This rank's share of an epoch's batches (the same list on every rank): every
    ``size``-th one, the same number on every rank."""
    if not world.distributed or not batches:
        return list(batches)
    if len(batches) < world.size:  # a tiny corpus: every rank still takes one step
        return [batches[world.rank % len(batches)]]
    usable = len(batches) - len(batches) % world.size
    return list(batches[world.rank : usable : world.size])


def agree(flag: bool, world: World, device: torch.device) -> bool:
    """Rank 0's ``flag`` on every rank."""
    if not world.distributed:
        return flag
    value = torch.tensor([int(flag)], device=device)
    torch.distributed.broadcast(value, src=0)
    return bool(value.item())
