"""Save and load a model directory: config.json, vocab.json, model.safetensors,
metrics.json and a README.md card. Nothing is ever unpickled.

Every file is written to a temporary name and renamed into place, so a kill during a
save leaves the previous best model whole.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from tagger.config import FORMAT_VERSION, Config
from tagger.crf import transition_constraints
from tagger.errors import ModelDirError, TaggerError
from tagger.model import SequenceTagger
from tagger.tags import TagScheme
from tagger.vocab import Vocab

HALF_PRECISION = ("word_embed.weight",)  # the big table; stored as float16 to keep models small


@dataclass
class LoadedModel:
    """Everything needed to run a trained model."""

    path: Path
    config: Config
    vocab: Vocab
    model: SequenceTagger
    task: str  # "ner" (spans) or "pos" (plain labels)
    label_scheme: TagScheme  # scheme of the labels the model predicts
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name


def build_model(config: Config, vocab: Vocab, label_scheme: TagScheme) -> SequenceTagger:
    constraints = transition_constraints(vocab.labels, label_scheme)
    return SequenceTagger(config.model, len(vocab.words), len(vocab.chars), len(vocab.labels), constraints)


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


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise ModelDirError(f"{path}: missing file (is {path.parent} a model directory?)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelDirError(f"{path}: not valid JSON: {exc}") from None


def load(directory: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Load a model directory; every inconsistency is a ``ModelDirError`` naming the file."""
    path = Path(directory)
    if not path.is_dir():
        raise ModelDirError(f"{path}: no such model directory")
    raw = _read_json(path / "config.json")
    version = raw.get("format_version") if isinstance(raw, dict) else None
    if version != FORMAT_VERSION:
        raise ModelDirError(
            f"{path / 'config.json'}: unknown format_version {version!r} (this tagger reads {FORMAT_VERSION})"
        )
    try:
        task = str(raw.pop("task"))
        label_scheme = TagScheme(raw.pop("label_scheme"))
        raw.pop("format_version")
        config = Config.from_dict(raw, str(path / "config.json"))
    except (KeyError, ValueError, TaggerError) as exc:
        raise ModelDirError(f"{path / 'config.json'}: invalid config: {exc}") from None
    try:
        vocab = Vocab.from_json(_read_json(path / "vocab.json"))
    except (KeyError, TypeError) as exc:
        raise ModelDirError(f"{path / 'vocab.json'}: invalid vocabulary: missing {exc}") from None
    weights_path = path / "model.safetensors"
    if not weights_path.is_file():
        raise ModelDirError(f"{weights_path}: missing file")
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError) as exc:
        raise ModelDirError(f"{weights_path}: unreadable weights: {exc}") from None
    model = build_model(config, vocab, label_scheme)
    expected = model.state_dict()
    problems = [k for k in expected if k not in state] + [k for k in state if k not in expected]
    problems += [
        f"{k} has shape {tuple(state[k].shape)}, config implies {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if problems:
        raise ModelDirError(f"{weights_path}: weights do not match config.json/vocab.json: {'; '.join(problems[:5])}")
    model.load_state_dict({k: v.float() for k, v in state.items()})
    model.to(device)
    model.eval()
    metrics_path = path / "metrics.json"
    metrics = _read_json(metrics_path) if metrics_path.is_file() else {}
    return LoadedModel(path, config, vocab, model, task, label_scheme, metrics)
