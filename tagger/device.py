"""Choosing the device and the CPU cores: once, by the entry points (CLI commands and
the server), with the same rules for training and inference.

Torch is imported only where a torch device is asked for: tagging on the ONNX backend
never loads it (a second of start-up)."""

from __future__ import annotations

import functools
import os
import sys
from typing import TYPE_CHECKING

from tagger.errors import TaggerError

if TYPE_CHECKING:
    import torch

_threads = 0  # set_threads' number; 0: each library's default


def pick_device(device: str | None = None) -> torch.device:
    """``auto`` (or ``None``): CUDA when available, else CPU; otherwise ``cpu``,
    ``cuda`` or ``cuda:N``, checked."""
    import torch

    apply_threads()
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


def cuda_possible() -> bool:
    """Whether ``pick_device("auto")`` could choose CUDA, answered without importing
    torch on Linux with no GPU driver loaded (NVIDIA's ``/proc/driver/nvidia``, WSL2's
    ``/dev/dxg``, ROCm's ``/dev/kfd``) or where torch is not installed."""
    drivers = ("/proc/driver/nvidia/version", "/dev/dxg", "/dev/kfd")
    if sys.platform.startswith("linux") and not any(os.path.exists(d) for d in drivers):
        return False
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni"})  # /proc/cpuinfo names of the x86 int8 dot products


@functools.cache
def cpu_has_vnni(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU multiplies int8 with VNNI instructions, read from Linux's CPU flags
    (False elsewhere, or where the file cannot be read).

    ONNX Runtime's int8 products use them where present. Without them it falls back to an
    AVX2 instruction whose 16-bit intermediate sums can saturate (ONNX Runtime's
    quantization guide warns of a loss of accuracy), which nothing here has measured."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return not VNNI_FLAGS.isdisjoint(line.partition(":")[2].split())
    except OSError:
        pass
    return False


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity, which containers often narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def set_threads(threads: int | None) -> None:
    """Intra-op threads for this process (torch's, and ONNX Runtime sessions'); ``None``
    or 0 keeps the default. Process-wide, so only entry points call it. Torch gets the
    number now if it is loaded, else when ``pick_device`` first loads it."""
    global _threads
    if threads:
        _threads = threads
        apply_threads()


def apply_threads() -> None:
    """Hand ``set_threads``' number to torch, if torch is loaded."""
    if _threads and sys.modules.get("torch") is not None:
        sys.modules["torch"].set_num_threads(_threads)


def inference_threads() -> int:
    """The intra-op threads an inference session of this process should use."""
    if _threads:
        return _threads
    if sys.modules.get("torch") is not None:
        return int(sys.modules["torch"].get_num_threads())
    return usable_cores()
