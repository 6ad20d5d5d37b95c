"""Integration tests on the real corpora in ../shared/datasets, with small budgets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tagger.cli import main
from tagger.config import Config
from tagger.labeler import Labeler
from tagger.portable import INT8_TOLERANCE
from tagger.train import train
from tests.conftest import MODELS, require_datasets

pytestmark = pytest.mark.integration


def _slice(source: Path, target: Path, count: int) -> Path:
    """The first ``count`` sentences of a CoNLL file, their lines unchanged."""
    blocks = [b for b in source.read_text(encoding="utf-8").split("\n\n") if b.strip()]
    target.write_text("\n\n".join(blocks[:count]) + "\n\n", encoding="utf-8")
    return target


def test_two_epochs_on_a_conll03_slice_learn_entities(tmp_path: Path) -> None:
    data = require_datasets()
    train_file = _slice(data / "conll2003" / "train.txt", tmp_path / "train.txt", 3000)
    dev_file = _slice(data / "conll2003" / "valid.txt", tmp_path / "dev.txt", 600)
    config = Config()
    config.model.hidden_size = 64
    config.train.epochs = 2
    config.train.batch_size = 16
    config.train.threads = 2
    result = train(
        train_file,
        dev_file,
        tmp_path / "model",
        config,
        embeddings=data / "glove" / "glove.6B.50d.top200k.txt.gz",
        log=lambda _: None,
        progress=False,
    )
    # A majority-class tagger scores 0; two epochs on 3,000 sentences with GloVe reached 0.88.
    assert result.best_score > 0.75
    assert result.history[1]["loss"] < result.history[0]["loss"]


@pytest.mark.parametrize(
    ("name", "dev", "fmt"),
    [
        ("ner-en-conll03", "conll2003/valid.txt", "conll"),
        ("pos-en-ewt", "ud_english_ewt/en_ewt-ud-dev.conllu", "conllu"),
    ],
)
def test_shipped_models_reproduce_their_card_scores(
    name: str, dev: str, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = require_datasets()
    model = MODELS / name
    if not (model / "model.safetensors").is_file():
        pytest.fail(f"{model} is not shipped")
    card = json.loads((model / "metrics.json").read_text())

    def evaluate(*options: str) -> float:
        assert main(["evaluate", str(model), str(data / dev), "--format", fmt, "--json", *options]) == 0
        return float(json.loads(capsys.readouterr().out)["main"])

    # The card holds the float model's scores; auto may run the int8 export, within a tolerance.
    as_run = evaluate()
    floor = 0.940 if name.startswith("ner") else 0.955
    assert as_run >= floor
    float_score = evaluate("--backend", "torch") if Labeler.load(model, "cpu").backend(name) == "onnx-int8" else as_run
    assert float_score == pytest.approx(card["dev"]["main"], abs=1e-4)
    assert as_run == pytest.approx(float_score, abs=INT8_TOLERANCE)
    assert f"{card['dev']['main']:.4f}" in (model / "README.md").read_text()
