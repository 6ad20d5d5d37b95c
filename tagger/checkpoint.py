"""Save and load a model directory: config.json, vocab.json, model.safetensors,
metrics.json and a README.md card. Nothing is ever unpickled.

Every file is written to a temporary name and renamed into place, so a kill during a
save leaves the previous best model whole.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from tagger.config import FORMAT_VERSION, Config
from tagger.crf import transition_constraints
from tagger.errors import ModelDirError
from tagger.model import SequenceTagger
from tagger.modelfiles import HALF_PRECISION, ModelFiles, inside, read_model_files
from tagger.tags import TagScheme
from tagger.vocab import Vocab


@dataclass(kw_only=True)
class LoadedModel(ModelFiles):
    """A model directory's files with its torch model: everything needed to run it."""

    model: SequenceTagger


def build_model(config: Config, vocab: Vocab, label_scheme: TagScheme, device: str | None = None) -> SequenceTagger:
    constraints = transition_constraints(vocab.labels, label_scheme)
    return SequenceTagger(config.model, len(vocab.words), len(vocab.chars), len(vocab.labels), constraints, device)


def atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)  # mkstemp creates 0600; model files are meant to be shared
    os.replace(tmp, path)


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def save_weights(model: SequenceTagger, directory: Path) -> None:
    tensors = {}
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        tensors[name] = tensor.half() if name in HALF_PRECISION else tensor
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".model.safetensors.")
    os.close(fd)
    save_file(tensors, tmp, metadata={"format_version": str(FORMAT_VERSION)})
    os.chmod(tmp, 0o644)
    os.replace(tmp, directory / "model.safetensors")


def save_static(directory: Path, config: Config, vocab: Vocab, task: str, label_scheme: TagScheme) -> None:
    """Write what does not change between epochs: config and vocabulary."""
    directory.mkdir(parents=True, exist_ok=True)
    write_json(
        directory / "config.json",
        {"format_version": FORMAT_VERSION, "task": task, "label_scheme": label_scheme.value, **config.to_dict()},
    )
    write_json(directory / "vocab.json", vocab.to_json())


def _header_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor shapes from a safetensors header, without reading the tensors."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118 - not a dict
    except (SafetensorError, OSError) as exc:
        raise ModelDirError(f"{path}: unreadable weights: {exc}") from None


def load(directory: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Load a model directory; every inconsistency is a ``ModelDirError`` naming the file."""
    files = read_model_files(directory)
    path, config, vocab, label_scheme = files.path, files.config, files.vocab, files.label_scheme
    weights_path = inside(path / "model.safetensors")
    # Shapes are compared before anything is allocated: the model is built on the meta
    # device (no memory), so a config asking for huge layers fails here, cheaply.
    shapes_only = build_model(config, vocab, label_scheme, device="meta")
    expected = {k: tuple(v.shape) for k, v in shapes_only.state_dict().items()}
    found = _header_shapes(weights_path)
    problems = [k for k in expected if k not in found] + [k for k in found if k not in expected]
    problems += [
        f"{k} has shape {found[k]}, config implies {shape}"
        for k, shape in expected.items()
        if k in found and found[k] != shape
    ]
    if problems:
        raise ModelDirError(f"{weights_path}: weights do not match config.json/vocab.json: {'; '.join(problems[:5])}")
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError) as exc:
        raise ModelDirError(f"{weights_path}: unreadable weights: {exc}") from None
    # The weights go into the meta model in place of its shapes (``assign``): building a
    # real one first would fill every table with random numbers only to overwrite them.
    model = shapes_only
    model.load_state_dict({k: v.float() for k, v in state.items()}, assign=True)
    model.to(device)
    model.eval()
    return LoadedModel(path, config, vocab, files.task, label_scheme, files.metrics, model=model)
