from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from tagger import checkpoint
from tagger.errors import ModelDirError
from tagger.train import train
from tests.test_train import tiny_config


@pytest.fixture
def model_dir(ner_file: Path, tmp_path: Path) -> Path:
    config = tiny_config()
    config.train.epochs = 2
    train(ner_file, ner_file, tmp_path / "m", config, log=lambda _: None, progress=False)
    return tmp_path / "m"


def test_missing_file_is_named(model_dir: Path) -> None:
    (model_dir / "vocab.json").unlink()
    with pytest.raises(ModelDirError, match=r"vocab.json: missing file"):
        checkpoint.load(model_dir)


def test_unknown_format_version(model_dir: Path) -> None:
    config = json.loads((model_dir / "config.json").read_text())
    config["format_version"] = 99
    (model_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelDirError, match=r"config.json: unknown format_version 99"):
        checkpoint.load(model_dir)


def test_weights_that_do_not_match_config(model_dir: Path) -> None:
    config = json.loads((model_dir / "config.json").read_text())
    config["model"]["hidden_size"] = 32
    (model_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelDirError, match=r"model.safetensors: weights do not match config.json"):
        checkpoint.load(model_dir)


def test_weights_missing_a_tensor(model_dir: Path) -> None:
    state = load_file(str(model_dir / "model.safetensors"))
    del state["emit.weight"]
    save_file(state, str(model_dir / "model.safetensors"))
    with pytest.raises(ModelDirError, match=r"emit.weight"):
        checkpoint.load(model_dir)


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelDirError, match="no such model directory"):
        checkpoint.load(tmp_path / "nope")


def test_embedding_table_is_half_precision(model_dir: Path) -> None:
    state = load_file(str(model_dir / "model.safetensors"))
    assert str(state["word_embed.weight"].dtype) == "torch.float16"
    assert str(state["emit.weight"].dtype) == "torch.float32"
