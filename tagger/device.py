"""Choosing the device and the CPU cores: once, by the entry points (CLI commands and
the server), with the same rules for training and inference."""

from __future__ import annotations

import os

import torch

from tagger.errors import TaggerError


def pick_device(device: str | None = None) -> torch.device:
    """``auto`` (or ``None``): CUDA when available, else CPU; otherwise ``cpu``,
    ``cuda`` or ``cuda:N``, checked."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError:
        raise TaggerError(f"unknown device {device!r}; expected auto, cpu, cuda or cuda:N") from None
    if chosen.type not in ("cpu", "cuda"):
        raise TaggerError(f"unknown device {device!r}; expected auto, cpu, cuda or cuda:N")
    if chosen.type == "cuda":
        if not torch.cuda.is_available():
            raise TaggerError(f"device {device!r} requested but CUDA is not available")
        if chosen.index is not None and chosen.index >= torch.cuda.device_count():
            raise TaggerError(f"device {device!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
    return chosen


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity, which containers often narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def set_threads(threads: int | None) -> None:
    """Torch's intra-op threads for this process; ``None`` or 0 keeps torch's default.
    Process-wide, so only entry points call it."""
    if threads:
        torch.set_num_threads(threads)
