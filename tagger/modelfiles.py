"""A model directory's files other than its weights: config.json, vocab.json and
metrics.json, read and checked without torch (``tagger.checkpoint`` adds the torch
model; ``tagger.portable`` the NumPy and ONNX Runtime one)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from tagger.config import FORMAT_VERSION, Config
from tagger.errors import ModelDirError, TaggerError
from tagger.tags import TagScheme, is_bio_tag
from tagger.vocab import Vocab

HALF_PRECISION = ("word_embed.weight",)  # the big table; stored as float16 to keep models small


def dev_estimate(metrics: dict[str, Any]) -> tuple[float | None, bool]:
    """What a model is expected to score on unseen data like dev, and whether it was
    trained on dev. A final fit learnt dev, so its own dev score estimates nothing: its
    estimate is the selection run's dev score (the mean of several runs') that chose its
    epochs. ``None`` where metrics.json holds no number."""
    fit = metrics.get("final_fit")
    if isinstance(fit, dict) or metrics.get("trained_on_dev") is True:
        found = fit.get("selection_dev") if isinstance(fit, dict) else None
        return (float(found) if _is_number(found) else None), True
    dev = metrics.get("dev")
    found = dev.get("main") if isinstance(dev, dict) else None
    return (float(found) if _is_number(found) else None), False


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass
class ModelFiles:
    """What a model directory says about its model, weights aside."""

    path: Path
    config: Config
    vocab: Vocab
    task: str  # "ner" (spans) or "pos" (plain labels)
    label_scheme: TagScheme  # scheme of the labels the model predicts
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name


def inside(path: Path) -> Path:
    """``path``, refused when it is not a regular file of its model directory (a symlink
    pointing elsewhere, a directory)."""
    if not path.is_file():
        raise ModelDirError(f"{path}: missing file (is {path.parent} a model directory?)")
    if not path.resolve().is_relative_to(path.parent.resolve()):
        raise ModelDirError(f"{path}: links outside its model directory; refusing to load it")
    return path


def read_json_object(path: Path) -> dict[str, Any]:
    """A model directory's JSON file, which must hold an object."""
    try:
        data = json.loads(inside(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelDirError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ModelDirError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def read_model_files(directory: str | Path) -> ModelFiles:
    """config.json, vocab.json and metrics.json of a model directory; every
    inconsistency is a ``ModelDirError`` naming the file."""
    path = Path(directory)
    if not path.is_dir():
        raise ModelDirError(f"{path}: no such model directory")
    raw = read_json_object(path / "config.json")
    version = raw.get("format_version")
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
    if (task == "ner") != (label_scheme != TagScheme.NONE) or task not in ("ner", "pos"):
        needs = "an entity label scheme" if task == "ner" else "label_scheme 'none'"
        raise ModelDirError(f"{path / 'config.json'}: task {task!r} needs {needs}, not {label_scheme.value!r}")
    vocab = _read_vocab(path / "vocab.json", label_scheme)
    metrics_path = path / "metrics.json"
    metrics = read_json_object(metrics_path) if metrics_path.exists() else {}
    return ModelFiles(path, config, vocab, task, label_scheme, metrics)


def _read_vocab(path: Path, scheme: TagScheme) -> Vocab:
    """vocab.json, with its labels checked against the label scheme the model decodes."""
    data = read_json_object(path)
    for name in ("words", "chars", "labels"):
        if name not in data:
            raise ModelDirError(f"{path}: invalid vocabulary: missing field {name!r}")
        found = data[name]
        if not isinstance(found, list) or not all(isinstance(x, str) for x in found):
            raise ModelDirError(f"{path}: invalid vocabulary: {name} must be a list of strings")
    if scheme != TagScheme.NONE:
        bad = next((t for t in data["labels"] if not is_bio_tag(t)), None)
        if bad is not None:
            raise ModelDirError(f"{path}: label {bad!r} is not an entity tag of scheme {scheme.value!r}")
    try:
        return Vocab.from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelDirError(f"{path}: invalid vocabulary: {exc}") from None
