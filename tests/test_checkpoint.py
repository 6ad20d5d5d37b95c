from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from tagger import checkpoint
from tagger.cli import main
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


def test_cli_info_and_evaluate(model_dir: Path, ner_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(model_dir)]) == 0
    out = capsys.readouterr().out
    assert "task ner" in out and "B-PER" in out
    assert main(["evaluate", str(model_dir), str(ner_file), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["micro"]) >= {"precision", "recall", "f1"}
    assert 0.0 <= result["micro"]["f1"] <= 1.0
    assert set(result["per_type"]) <= {"PER", "LOC", "ORG", "MISC"}
    assert "strict" in result and 0.0 <= result["accuracy"] <= 1.0


def test_cli_errors_are_one_line(model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("a B-PER\nb\n", encoding="utf-8")
    assert main(["evaluate", str(model_dir), str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: {bad}:2: expected 2 columns as on earlier lines, found 1"
    assert main(["info", str(tmp_path / "missing")]) == 2
    assert "no such model directory" in capsys.readouterr().err


def test_cli_config_file_and_flags(ner_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[model]\nhidden_size = 8\nword_dim = 8\nchar_encoder = 'none'\n[train]\nepochs = 1\n")
    args = [
        "train",
        "--train",
        str(ner_file),
        "--dev",
        str(ner_file),
        "--output",
        str(tmp_path / "m"),
        "--config",
        str(cfg),
        "--quiet",
        "--cell",
        "gru",
        "--no-bidirectional",
    ]
    assert main(args) == 0
    saved = json.loads((tmp_path / "m" / "config.json").read_text())
    assert saved["model"]["hidden_size"] == 8 and saved["model"]["cell"] == "gru"
    assert saved["model"]["bidirectional"] is False and saved["train"]["epochs"] == 1
    cfg.write_text("[model]\nhiden_size = 8\n")
    assert main(args) == 2
    assert "unknown field 'model.hiden_size'" in capsys.readouterr().err
    cfg.write_text("[model]\ncell = 'tcn'\n")
    assert main(args[:-3]) == 2
    assert "model.cell must be one of lstm, gru, rnn" in capsys.readouterr().err
