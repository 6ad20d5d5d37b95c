"""Typed configuration for the model and its training, with defaults that work.

One dataclass per concern. A config file (JSON, TOML or YAML) overrides the defaults;
command-line flags override the file.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tagger.errors import TaggerError

FORMAT_VERSION = 1


@dataclass
class ModelConfig:
    word_dim: int = 50  # replaced by the width of --embeddings when given
    lowercase: bool = True  # look words up lowercased; casing comes back as a feature
    casing_dim: int = 8  # 0 disables the casing feature
    freeze_embeddings: bool = False  # keep pretrained vectors fixed
    char_encoder: Literal["cnn", "lstm", "none"] = "cnn"
    char_dim: int = 30
    char_hidden: int = 50  # CNN filters, or LSTM units per direction
    char_kernel: int = 3
    max_word_chars: int = 32  # characters per word seen by the char encoder
    cell: Literal["lstm", "gru", "rnn"] = "lstm"
    rnn_nonlinearity: Literal["tanh", "relu"] = "tanh"  # vanilla rnn only
    identity_init: bool = False  # IRNN (Le et al. 2015): relu rnn, recurrent weights = I
    hidden_size: int = 200  # per direction
    num_layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.5  # on embeddings, between layers and before the head
    head: Literal["crf", "softmax"] = "crf"


@dataclass
class TrainConfig:
    epochs: int = 50
    batch_size: int = 32  # sentences per batch (batches are bucketed by length)
    optimizer: Literal["adam", "sgd"] = "adam"
    lr: float = 2e-3
    lr_decay: float = 0.05  # lr_epoch = lr / (1 + lr_decay * epoch)
    momentum: float = 0.9  # sgd only
    weight_decay: float = 0.0
    clip_norm: float = 5.0  # global gradient norm
    patience: int = 10  # epochs without dev improvement before stopping
    seed: int = 1
    word_dropout: float = 0.05  # replace words by <unk> during training
    threads: int = 0  # torch threads; 0 leaves torch's default
    max_pretrained: int = 100_000  # most frequent pretrained words kept in the vocabulary
    min_count: int = 2  # training words without a pretrained vector kept when this frequent
    tag_scheme: Literal["bioes", "iob2", "keep"] = "bioes"  # labels the model learns


@dataclass
class DataConfig:
    format: Literal["conll", "conllu"] = "conll"
    token_column: int = 0
    tag_column: int = -1
    tag_field: Literal["upos", "xpos"] = "upos"  # CoNLL-U only


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> Config:
        config = cls()
        for section, values in data.items():
            if section not in ("model", "train", "data"):
                raise TaggerError(f"{source}: unknown section {section!r} (expected model, train, data)")
            if not isinstance(values, dict):
                raise TaggerError(f"{source}: section {section!r} must be a mapping")
            for key, value in values.items():
                set_field(config, f"{section}.{key}", value, source)
        return config


def set_field(config: Config, dotted: str, value: Any, source: str = "config") -> None:
    """Set ``section.name`` with a type check, so a typo is an error, not a silent default."""
    section_name, _, name = dotted.partition(".")
    section = getattr(config, section_name, None)
    if section is None or not dataclasses.is_dataclass(section):
        raise TaggerError(f"{source}: unknown section {section_name!r}")
    fields = {f.name: f for f in dataclasses.fields(section)}
    if name not in fields:
        raise TaggerError(f"{source}: unknown field {dotted!r}; known: {', '.join(sorted(fields))}")
    current = getattr(section, name)
    if isinstance(current, bool):
        ok = isinstance(value, bool)
    elif isinstance(current, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(current, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, str)
        literal = fields[name].type
        choices = _literal_choices(str(literal))
        if ok and choices and value not in choices:
            raise TaggerError(f"{source}: {dotted} must be one of {', '.join(choices)}, not {value!r}")
    if not ok:
        raise TaggerError(f"{source}: {dotted} must be {type(current).__name__}, not {value!r}")
    setattr(section, name, value)


def _literal_choices(annotation: str) -> list[str]:
    if not annotation.startswith("Literal["):
        return []
    return [part.strip().strip("'\"") for part in annotation[len("Literal[") : -1].split(",")]


def load_config(path: str | Path) -> Config:
    """Read a JSON, TOML or YAML config file."""
    path = Path(path)
    if not path.is_file():
        raise TaggerError(f"{path}: no such config file")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
    except Exception as exc:
        raise TaggerError(f"{path}: cannot parse config: {exc}") from None
    if not isinstance(data, dict):
        raise TaggerError(f"{path}: config must be a mapping of sections")
    return Config.from_dict(data, str(path))
