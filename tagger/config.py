"""Typed configuration for the model and its training, with defaults that work.

One dataclass per concern, validated by pydantic on construction and on every
assignment, so a bad value (a typo, a negative width, a dropout of 5) is a one-line
error naming the field and its limit before anything is built. A config file (JSON,
TOML or YAML) overrides the defaults; command-line flags override the file.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationError
from pydantic.dataclasses import dataclass

from tagger.errors import TaggerError

FORMAT_VERSION = 1
_STRICT = ConfigDict(strict=True, validate_assignment=True, extra="forbid")

Positive = Annotated[int, Field(ge=1)]
Width = Annotated[int, Field(ge=1, le=8192)]  # bounded: a typo must not try to allocate terabytes
Probability = Annotated[float, Field(ge=0.0, lt=1.0)]


@dataclass(config=_STRICT)
class ModelConfig:
    word_dim: Width = 50  # replaced by the width of --embeddings when given
    lowercase: bool = True  # look words up lowercased; casing comes back as a feature
    casing_dim: Annotated[int, Field(ge=0, le=8192)] = 8  # 0 disables the casing feature
    # A sentence with no upper-case letter, or none in lower case, carries no casing
    # signal: its lower/upper words get their own casing id ("uncased"), so what the
    # model learns from case-augmented sentences does not blur the cased ones. Models
    # that read sentences alone only (context_sentences 0).
    sentence_casing: bool = False
    freeze_embeddings: bool = False  # keep pretrained vectors fixed
    char_encoder: Literal["cnn", "lstm", "none"] = "cnn"
    char_dim: Width = 30
    char_hidden: Width = 50  # CNN filters, or LSTM units per direction
    char_kernel: Annotated[int, Field(ge=1, le=15)] = 3
    max_word_chars: Annotated[int, Field(ge=1, le=1024)] = 32  # characters per word seen by the char encoder
    cell: Literal["lstm", "gru", "rnn"] = "lstm"
    rnn_nonlinearity: Literal["tanh", "relu"] = "tanh"  # vanilla rnn only
    identity_init: bool = False  # IRNN (Le et al. 2015): relu rnn, recurrent weights = I
    hidden_size: Width = 128  # per direction; two layers of 128 cost what one of 200 did
    num_layers: Annotated[int, Field(ge=1, le=16)] = 2  # stacked: the shipped models have two
    bidirectional: bool = True
    dropout: Probability = 0.5  # on embeddings, between layers and before the head
    # On the embeddings and before the head, one dropout mask per sentence, the same at
    # every word (variational dropout, Gal and Ghahramani 2016), instead of a new mask
    # per word; between stacked layers it stays torch's. Training only.
    locked_dropout: bool = False
    head: Literal["crf", "softmax"] = "crf"
    # Neighbouring sentences of the same document the recurrent layers see on each side
    # of the one they label (0: each sentence alone).
    context_sentences: Annotated[int, Field(ge=0, le=16)] = 0
    # At inference, how strongly a token's entity-type scores move towards the types its
    # other occurrences in the same document get ("Leeds" is one type throughout a
    # story; ``tagger.consistency``). 0: off. Entity models with a CRF only.
    document_consistency: Annotated[float, Field(ge=0.0, le=10.0, allow_inf_nan=False)] = 0.0


@dataclass(config=_STRICT)
class TrainConfig:
    epochs: Annotated[int, Field(ge=1, le=100_000)] = 16  # at most; early stopping usually ends sooner
    # Sentences per batch (bucketed by length); batches of context chunks hold about as many.
    batch_size: Annotated[int, Field(ge=1, le=100_000)] = 32
    optimizer: Literal["adam", "sgd"] = "adam"
    lr: Annotated[float, Field(gt=0.0, le=100.0)] = 2e-3
    # lr_epoch = lr / (1 + lr_decay * epoch); finite: inf makes the first epoch's lr inf * 0 = nan
    lr_decay: Annotated[float, Field(ge=0.0, le=10.0, allow_inf_nan=False)] = 0.05
    momentum: Probability = 0.9  # sgd only
    weight_decay: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = 0.0  # L2 penalty per step
    clip_norm: Annotated[float, Field(gt=0.0)] = 5.0  # global gradient norm
    patience: Positive = 4  # epochs without dev improvement before stopping
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 1  # what every generator the run seeds accepts
    word_dropout: Probability = 0.05  # replace words by <unk> during training
    # Share of tokens that see their word's pretrained vector as the file gave it instead
    # of the fine-tuned one: a word no training sentence has (a new name in next month's
    # news) only has its pretrained vector, and fine-tuning moves the others away from it.
    # On CoNLL-2003 it gained 0.57 points over 3 seeds on text unlike dev (the held-out
    # slice), with dev unchanged; the share was not tuned.
    vector_dropout: Probability = 0.25
    # Share of training sentences shown all lower-case or all upper-case (half each),
    # drawn anew each epoch: robustness to text that carries no case information.
    case_augment: Annotated[float, Field(ge=0.0, le=1.0)] = 0.3
    # Trained model directories (teachers) whose combined label probabilities the model
    # learns beside the gold labels (``tagger.distil``), weighted by ``distil_weight``;
    # none: the gold labels only. Models that read sentences alone (context 0).
    teachers: list[str] = Field(default_factory=list)
    distil_weight: Annotated[float, Field(ge=0.0, le=100.0, allow_inf_nan=False)] = 1.0
    # Average the weights of the last N epochs at the end (0 or 1: off); kept when its
    # dev score is at least the best epoch's, and always in a final fit.
    average_last: Annotated[int, Field(ge=0, le=20)] = 3
    # Last share of the training documents held out of training and never tuned on:
    # scored at the end beside dev, as a second check of how the recipe generalises.
    holdout_share: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    threads: Annotated[int, Field(ge=0, le=1024)] = 0  # torch threads; 0 leaves torch's default
    # Most frequent pretrained words kept beside the training words: words of new text
    # that training never saw still get a vector (all 200k of the GloVe file shared here).
    max_pretrained: Annotated[int, Field(ge=0)] = 200_000
    min_count: Positive = 2  # training words without a pretrained vector kept when this frequent
    tag_scheme: Literal["bioes", "iob2", "keep"] = "bioes"  # labels the model learns
    device: str = "auto"  # auto (CUDA when available), cpu, cuda, cuda:N
    mixed_precision: bool = True  # bfloat16 autocast on CUDA where supported; never on CPU


@dataclass(config=_STRICT)
class DataConfig:
    format: Literal["conll", "conllu"] = "conll"
    token_column: int = 0
    tag_column: int = -1
    tag_field: Literal["upos", "xpos"] = "upos"  # CoNLL-U only


SECTIONS: dict[str, type] = {"model": ModelConfig, "train": TrainConfig, "data": DataConfig}


@dataclasses.dataclass
class Config:
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def copy(self) -> Config:
        return copy.deepcopy(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> Config:
        config = cls()
        for section, values in data.items():
            if section not in SECTIONS:
                raise TaggerError(f"{source}: unknown section {section!r} (expected model, train, data)")
            if not isinstance(values, dict):
                raise TaggerError(f"{source}: section {section!r} must be a mapping")
            for key, value in values.items():
                set_field(config, f"{section}.{key}", value, source)
        return config


def set_field(config: Config, dotted: str, value: Any, source: str = "config") -> None:
    """Set ``section.name``, validated, so a typo is an error, not a silent default."""
    section_name, _, name = dotted.partition(".")
    section = getattr(config, section_name, None) if section_name in SECTIONS else None
    if section is None:
        raise TaggerError(f"{source}: unknown section {section_name!r}")
    fields = {f.name for f in dataclasses.fields(section)}
    if name not in fields:
        raise TaggerError(f"{source}: unknown field {dotted!r}; known: {', '.join(sorted(fields))}")
    try:
        setattr(section, name, value)
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"]
        raise TaggerError(f"{source}: {dotted}: {problem} (got {value!r})") from None


def _load_yaml(text: str) -> Any:
    """YAML with YAML 1.2 floats: PyYAML follows 1.1, where ``1e-3`` is a string."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    number = r"^[-+]?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"
    Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(number), list("-+0123456789."))
    # Integers keep their own resolver, which PyYAML tries first for digits-only scalars.
    return yaml.load(text, Loader=Loader) or {}  # a SafeLoader subclass: no arbitrary objects


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
            data = _load_yaml(text)
        else:
            data = json.loads(text)
    except Exception as exc:
        raise TaggerError(f"{path}: cannot parse config: {exc}") from None
    if not isinstance(data, dict):
        raise TaggerError(f"{path}: config must be a mapping of sections")
    return Config.from_dict(data, str(path))
