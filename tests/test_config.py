from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tagger.config import Config, DataConfig, ModelConfig, TrainConfig, load_config, set_field
from tagger.errors import TaggerError


def test_defaults() -> None:
    config = Config()
    m, t, d = config.model, config.train, config.data
    assert (m.word_dim, m.casing_dim, m.char_dim, m.char_hidden, m.char_kernel) == (50, 8, 30, 50, 3)
    assert (m.char_encoder, m.cell, m.head, m.rnn_nonlinearity) == ("cnn", "lstm", "crf", "tanh")
    assert (m.hidden_size, m.num_layers, m.bidirectional, m.dropout) == (128, 2, True, 0.5)
    assert (m.lowercase, m.freeze_embeddings, m.identity_init) == (True, False, False)
    assert (m.max_word_chars, m.context_sentences) == (32, 0)
    assert (t.epochs, t.batch_size, t.optimizer, t.lr, t.lr_decay) == (16, 32, "adam", 2e-3, 0.05)
    assert (t.momentum, t.weight_decay, t.clip_norm, t.patience, t.seed) == (0.9, 0.0, 5.0, 4, 1)
    assert (t.case_augment, t.average_last, t.holdout_share) == (0.3, 3, 0.0)
    assert (t.word_dropout, t.vector_dropout, t.threads, t.max_pretrained, t.min_count) == (0.05, 0.25, 0, 200_000, 2)
    assert (t.tag_scheme, t.device, t.mixed_precision) == ("bioes", "auto", True)
    assert (d.format, d.token_column, d.tag_column, d.tag_field) == ("conll", 0, -1, "upos")


def test_to_dict_sections() -> None:
    data = Config().to_dict()
    assert set(data) == {"model", "train", "data"}
    assert data["model"]["hidden_size"] == 128
    assert data["train"]["lr"] == 2e-3
    assert data["data"] == {"format": "conll", "token_column": 0, "tag_column": -1, "tag_field": "upos"}


def test_set_field_sets_a_valid_value() -> None:
    config = Config()
    set_field(config, "model.hidden_size", 64)
    set_field(config, "model.cell", "gru")
    set_field(config, "train.lr", 1)  # an int is a valid float
    assert (config.model.hidden_size, config.model.cell, config.train.lr) == (64, "gru", 1)


@pytest.mark.parametrize(
    ("dotted", "value", "message"),
    [
        ("model.hidden_size", 0, "config: model.hidden_size: Input should be greater than or equal to 1 (got 0)"),
        ("model.hidden_size", -1, "config: model.hidden_size: Input should be greater than or equal to 1 (got -1)"),
        (
            "model.hidden_size",
            10**6,
            "config: model.hidden_size: Input should be less than or equal to 8192 (got 1000000)",
        ),
        ("model.dropout", 5.0, "config: model.dropout: Input should be less than 1 (got 5.0)"),
        ("model.dropout", -0.1, "config: model.dropout: Input should be greater than or equal to 0 (got -0.1)"),
        ("model.num_layers", 0, "config: model.num_layers: Input should be greater than or equal to 1 (got 0)"),
        ("model.num_layers", 17, "config: model.num_layers: Input should be less than or equal to 16 (got 17)"),
        ("train.batch_size", 0, "config: train.batch_size: Input should be greater than or equal to 1 (got 0)"),
        ("train.lr", 0, "config: train.lr: Input should be greater than 0 (got 0)"),
        ("model.hidden_size", True, "config: model.hidden_size: Input should be a valid integer (got True)"),
        ("model.hidden_size", 8.0, "config: model.hidden_size: Input should be a valid integer (got 8.0)"),
        ("model.hidden_size", "8", "config: model.hidden_size: Input should be a valid integer (got '8')"),
        ("model.lowercase", 1, "config: model.lowercase: Input should be a valid boolean (got 1)"),
        ("model.cell", "lstmx", "config: model.cell: Input should be 'lstm', 'gru' or 'rnn' (got 'lstmx')"),
        ("train.optimizer", "rmsprop", "config: train.optimizer: Input should be 'adam' or 'sgd' (got 'rmsprop')"),
        ("data.format", "json", "config: data.format: Input should be 'conll' or 'conllu' (got 'json')"),
    ],
)
def test_set_field_errors_are_one_line(dotted: str, value: Any, message: str) -> None:
    config = Config()
    section, name = dotted.split(".")
    before = getattr(getattr(config, section), name)
    with pytest.raises(TaggerError) as info:
        set_field(config, dotted, value)
    assert str(info.value) == message
    assert "\n" not in str(info.value)
    assert getattr(getattr(config, section), name) == before  # a rejected value is not kept


def test_set_field_names_the_source() -> None:
    with pytest.raises(TaggerError, match=r"^run\.toml: model\.hidden_size: "):
        set_field(Config(), "model.hidden_size", 0, source="run.toml")


def test_unknown_field_lists_known_fields() -> None:
    with pytest.raises(TaggerError) as info:
        set_field(Config(), "train.batchsize", 8)
    known = ", ".join(sorted(f for f in TrainConfig.__dataclass_fields__))
    assert str(info.value) == f"config: unknown field 'train.batchsize'; known: {known}"
    assert "batch_size" in str(info.value)


def test_unknown_section() -> None:
    with pytest.raises(TaggerError) as info:
        set_field(Config(), "optim.lr", 0.1)
    assert str(info.value) == "config: unknown section 'optim'"
    with pytest.raises(TaggerError, match=r"^config: unknown section 'to_dict'$"):
        set_field(Config(), "to_dict.x", 1)


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(ValueError, match="hidden_size"):
        ModelConfig(hidden_size=0)
    with pytest.raises(ValueError, match="tag_field"):
        DataConfig(tag_field="lemma")  # type: ignore[arg-type]


# --- from_dict / to_dict ------------------------------------------------------------------------------------------


def test_from_dict_round_trip() -> None:
    config = Config()
    config.model.hidden_size = 16
    config.model.cell = "gru"
    config.train.lr = 0.5
    config.data.format = "conllu"
    data = json.loads(json.dumps(config.to_dict()))
    again = Config.from_dict(data)
    assert again == config
    assert again.to_dict() == config.to_dict()


def test_from_dict_partial_keeps_defaults() -> None:
    config = Config.from_dict({"model": {"hidden_size": 32}})
    assert config.model.hidden_size == 32
    assert config.model.word_dim == 50
    assert config.train == TrainConfig()


def test_from_dict_errors() -> None:
    with pytest.raises(TaggerError) as info:
        Config.from_dict({"optimizer": {}}, source="x.json")
    assert str(info.value) == "x.json: unknown section 'optimizer' (expected model, train, data)"
    with pytest.raises(TaggerError) as info:
        Config.from_dict({"model": 3}, source="x.json")
    assert str(info.value) == "x.json: section 'model' must be a mapping"
    with pytest.raises(TaggerError, match=r"^x\.json: model\.dropout: Input should be less than 1 \(got 2\)$"):
        Config.from_dict({"model": {"dropout": 2}}, source="x.json")


def test_copy_is_deep() -> None:
    config = Config()
    clone = config.copy()
    assert clone == config
    assert clone.model is not config.model
    clone.model.hidden_size = 8
    clone.train.epochs = 3
    set_field(clone, "data.format", "conllu")
    assert config.model.hidden_size == 128
    assert config.train.epochs == 16
    assert config.data.format == "conll"


# --- load_config --------------------------------------------------------------------------------------------------


def _check_loaded(config: Config) -> None:
    assert config.model.hidden_size == 64
    assert config.model.cell == "gru"
    assert config.train.lr == 0.01
    assert config.train.epochs == 16  # untouched default


def test_load_json(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"model": {"hidden_size": 64, "cell": "gru"}, "train": {"lr": 0.01}}))
    _check_loaded(load_config(path))


def test_load_toml(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[model]\nhidden_size = 64\ncell = "gru"\n\n[train]\nlr = 0.01\n')
    _check_loaded(load_config(str(path)))


@pytest.mark.parametrize("suffix", [".yaml", ".yml"])
def test_load_yaml(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"c{suffix}"
    path.write_text("model:\n  hidden_size: 64\n  cell: gru\ntrain:\n  lr: 0.01\n")
    _check_loaded(load_config(path))


def test_empty_yaml_is_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("")
    assert load_config(path) == Config()


@pytest.mark.parametrize(
    ("name", "text"),
    [("c.json", '{"model": {'), ("c.toml", "[model\nhidden_size = "), ("c.yaml", "model: [1, 2\n")],
)
def test_parse_error(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(TaggerError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: cannot parse config: ")


def test_missing_config_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(TaggerError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: no such config file"


def test_config_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("[1, 2]")
    with pytest.raises(TaggerError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: config must be a mapping of sections"


def test_bad_value_in_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[model]\nhidden_size = 0\n")
    with pytest.raises(TaggerError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: model.hidden_size: Input should be greater than or equal to 1 (got 0)"


def test_yaml_exponent_float(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  lr: 1e-3\n")
    assert load_config(path).train.lr == 1e-3


# --- bounds that keep training finite -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dotted", "value"),
    [
        ("train.lr_decay", float("inf")),  # lr / (1 + inf * 0) is nan from the first step: nan weights
        ("train.lr_decay", float("nan")),
        ("train.lr_decay", 1e9),
        ("train.lr_decay", -0.1),
        ("train.weight_decay", float("inf")),
        ("train.weight_decay", float("nan")),
        ("train.weight_decay", 5.0),
        ("train.seed", -1),
        ("train.seed", 2**32),
        ("train.seed", 99999999999999999999),  # torch.manual_seed: "Overflow when unpacking long long"
        ("model.document_consistency", float("nan")),  # nan scores: every label ties
        ("model.document_consistency", float("inf")),
        ("model.document_consistency", -0.25),  # would push mentions apart
    ],
)
def test_training_numbers_are_bounded_to_finite_sensible_ranges(dotted: str, value: Any) -> None:
    with pytest.raises(TaggerError) as info:
        set_field(Config(), dotted, value, "command line")
    message = str(info.value)
    assert message.startswith(f"command line: {dotted}: ") and message.endswith(f"(got {value!r})")
    assert "\n" not in message


def test_the_bounds_keep_the_useful_values() -> None:
    config = Config()
    for dotted, value in [
        ("train.lr_decay", 0.0),
        ("train.lr_decay", 10.0),
        ("train.weight_decay", 0.0),
        ("train.weight_decay", 1e-4),
        ("train.weight_decay", 1.0),
        ("train.seed", 0),
        ("train.seed", 2**32 - 1),
        ("model.document_consistency", 0.0),
        ("model.document_consistency", 0.25),
    ]:
        set_field(config, dotted, value)
        section, name = dotted.split(".")
        assert getattr(getattr(config, section), name) == value
