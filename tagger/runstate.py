"""What a training run keeps on disk besides the model: a staging directory beside the
model directory, from which complete models are published, and the state of the last
completed epoch, from which ``tagger train --resume DIR`` continues.

A model directory only ever changes by being replaced whole: each better epoch is
written complete (config, vocabulary, weights, metrics) into a fresh directory, which
then takes the model directory's place by one atomic exchange (``renameat2``) where
the file system has it, else by two renames, undone on the next start if a kill falls
between them. So a killed (re)training leaves the previous model or the new one, never
a mix.
"""

from __future__ import annotations

import ctypes
import os
import random
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from tagger.checkpoint import write_json
from tagger.errors import TaggerError
from tagger.modelfiles import read_json_object

RENAME_EXCHANGE = 2  # linux/fs.h
AT_FDCWD = -100
STATE_FILE = "state.json"


def staging_dir(output: Path) -> Path:
    return output.parent / f".{output.name}.training"


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories atomically; False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    done = renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE)
    return bool(done == 0)


def recover(output: Path) -> None:
    """Finish a publication that a kill interrupted between its two renames."""
    old = output.parent / f".{output.name}.old"
    if not output.exists() and old.is_dir():
        old.rename(output)
    elif old.exists():
        shutil.rmtree(old, ignore_errors=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(files: Path, output: Path) -> None:
    """Make directory ``files`` the model directory ``output``, replacing it whole.

    The new files reach the disk before the rename that makes them the model: without
    that, a power cut soon after could leave the renamed directory with empty files
    (file systems may order the rename before the data), losing the model it replaced."""
    for path in files.iterdir():
        _fsync(path)
    _fsync(files)
    if not output.exists():
        files.rename(output)
    elif _exchange(files, output):
        shutil.rmtree(files)
    else:
        old = output.parent / f".{output.name}.old"
        shutil.rmtree(old, ignore_errors=True)
        output.rename(old)
        files.rename(output)
        shutil.rmtree(old)
    _fsync(output.parent)  # the rename itself


def _flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, Any] = {"param_groups": state["param_groups"], "state": {}}
    for index, values in state["state"].items():
        plain["state"][str(index)] = {}
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                plain["state"][str(index)][key] = value
    return tensors, plain


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], plain: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {int(i): dict(v) for i, v in plain["state"].items()}
    for name, tensor in tensors.items():
        index, _, key = name.partition(".")
        state.setdefault(int(index), {})[key] = tensor
    return {"state": state, "param_groups": plain["param_groups"]}


def save_epoch(
    staging: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    rng: random.Random,
    progress: dict[str, Any],
    window: list[dict[str, torch.Tensor]] | None = None,
) -> None:
    """The state after a completed epoch: weights, optimizer, random generators,
    ``progress`` (epoch, history, best score...) and ``window``, the weights of the
    epochs before it that the final average takes (without them a resumed run would
    average fewer epochs than the same run uninterrupted), written into a directory of
    its own; then ``state.json``, replaced atomically, names it. A kill at any moment
    leaves ``state.json`` naming one complete epoch, never a mix of two."""
    epoch_dir = staging / f"epoch-{progress['epoch']}"
    discard(epoch_dir)
    epoch_dir.mkdir()
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(weights, str(epoch_dir / "last.safetensors"))
    for index, earlier in enumerate(window or []):
        save_file({k: v.contiguous() for k, v in earlier.items()}, str(epoch_dir / f"window-{index}.safetensors"))
    tensors, plain = _flatten_optimizer(optimizer.state_dict())
    tensors["torch_rng"] = torch.get_rng_state()
    save_file(tensors, str(epoch_dir / "optimizer.safetensors"))
    state = {
        **progress,
        "epoch_dir": epoch_dir.name,
        "optimizer": plain,
        "window": len(window or []),
        "rng": _jsonable(rng.getstate()),
        "python_rng": _jsonable(random.getstate()),
    }
    write_json(epoch_dir / "state.json", state)
    previous = read_json_object(staging / STATE_FILE).get("epoch_dir") if (staging / STATE_FILE).is_file() else None
    write_json(staging / STATE_FILE, state)  # the switch to the new epoch
    if previous and previous != epoch_dir.name:
        discard(staging / str(previous))


def load_epoch(
    staging: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, rng: random.Random
) -> dict[str, Any]:
    """Restore what ``save_epoch`` wrote; returns its ``progress``, with the averaging
    window's weights (oldest first) under ``"window"``. A state that cannot be restored
    (a file gone, damaged, or weights that no longer fit the run's model) is a one-line
    ``TaggerError`` naming ``state.json``; nothing is changed on disk."""
    state_file = staging / STATE_FILE
    if not state_file.is_file():
        raise TaggerError(f"{staging}: no completed epoch to resume from")
    state = read_json_object(state_file)

    def damaged(what: str) -> TaggerError:
        return TaggerError(f"{state_file}: damaged resume state: {what}; start the run afresh with --output")

    name = state.pop("epoch_dir", None)
    if not isinstance(name, str) or not name or Path(name).name != name:
        raise damaged("no epoch_dir naming the last completed epoch")
    epoch_dir = staging / name
    if not epoch_dir.is_dir():
        raise damaged(f"names {name}, which is missing")
    missing = [f for f in ("last.safetensors", "optimizer.safetensors") if not (epoch_dir / f).is_file()]
    if missing:
        raise damaged(f"{name} has no {' or '.join(missing)}")
    for key in ("optimizer", "rng", "python_rng"):
        if key not in state:
            raise damaged(f"no {key!r}")
    try:
        model.load_state_dict(load_file(str(epoch_dir / "last.safetensors")))
        tensors = load_file(str(epoch_dir / "optimizer.safetensors"))
        torch.set_rng_state(tensors.pop("torch_rng"))
        optimizer.load_state_dict(_unflatten_optimizer(tensors, state.pop("optimizer")))
        rng.setstate(_tuples(state.pop("rng")))
        random.setstate(_tuples(state.pop("python_rng")))
        count = state.get("window", 0)
        state["window"] = [load_file(str(epoch_dir / f"window-{i}.safetensors")) for i in range(count)]
    except (SafetensorError, OSError, KeyError, TypeError, ValueError, RuntimeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise damaged(f"{name} cannot be restored ({type(exc).__name__}: {reason})") from None
    return state


def _jsonable(value: Any) -> Any:
    return [_jsonable(v) for v in value] if isinstance(value, (tuple, list)) else value


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def discard(staging: Path) -> None:
    """Remove ``staging`` and everything in it, if it is there."""
    if not os.path.lexists(staging):
        return
    try:
        shutil.rmtree(staging)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise TaggerError(f"{staging}: cannot remove it: {exc.strerror or exc}") from None


def prepare_staging(output: Path) -> Path:
    """Create the staging directory of ``output`` (and the directories above it)."""
    staging = staging_dir(output)
    try:
        staging.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in staging.parents if p.exists() and not p.is_dir()), None)
        reason = f"{blocker} is not a directory" if blocker is not None else exc.strerror or str(exc)
        raise TaggerError(f"{output}: cannot create its training directory {staging.name}: {reason}") from None
    return staging


def read_static(staging: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The run's config.json and vocab.json, as saved at its start."""
    return read_json_object(staging / "config.json"), read_json_object(staging / "vocab.json")
