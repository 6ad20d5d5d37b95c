from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tagger.card import facts, write_card, write_curves
from tagger.checkpoint import build_model, save_static, save_weights, write_json
from tagger.config import Config
from tagger.tags import TagScheme
from tagger.vocab import build_vocab

COMMAND = "tagger train --train train.txt --dev dev.txt --output models/tiny"


def _row(p: float, r: float, f: float, support: int) -> dict[str, Any]:
    return {"precision": p, "recall": r, "f1": f, "support": support}


def ner_metrics() -> dict[str, Any]:
    micro = _row(0.9, 0.8, 0.84706, 10)
    return {
        "task": "ner",
        "dev": {
            "accuracy": 0.97531,
            "micro": micro,
            "per_type": {"LOC": _row(1.0, 0.75, 0.857142, 4), "PER": _row(0.8, 0.833333, 0.816326, 6)},
            "strict": {"micro": _row(0.85, 0.8, 0.82424, 10), "per_type": {}},
            "main": 0.84706,
        },
        "best_epoch": 3,
        "epochs_run": 5,
        "seconds_per_epoch": 1.25,
        "torch_threads": 2,
        "seed": 7,
        "data": {"train": "train.txt", "dev": "dev.txt", "embeddings": "", "command": COMMAND, "licence": ""},
        "history": [],
    }


def make_model_dir(directory: Path, task: str = "ner", metrics: dict[str, Any] | None = None) -> Path:
    config = Config()
    config.model.word_dim = 4
    config.model.casing_dim = 2
    config.model.char_dim = 3
    config.model.char_hidden = 3
    config.model.hidden_size = 8
    labels = ["O", "B-PER", "E-PER", "S-LOC"] if task == "ner" else ["NOUN", "VERB"]
    scheme = TagScheme.BIOES if task == "ner" else TagScheme.NONE
    vocab = build_vocab(["Peter", "lives", "in", "Berlin"], labels, min_count=1)
    save_static(directory, config, vocab, task, scheme)
    save_weights(build_model(config, vocab, scheme), directory)
    if metrics is not None:
        write_json(directory / "metrics.json", metrics)
    return directory


def test_facts(tmp_path: Path) -> None:
    directory = make_model_dir(tmp_path / "tiny-ner", metrics=ner_metrics())
    f = facts(directory)
    assert f["name"] == "tiny-ner"
    assert f["task"] == "ner"
    assert f["label_scheme"] == "bioes"
    assert f["labels"] == ["B-PER", "E-PER", "O", "S-LOC"]
    assert f["vocabulary"] == 2 + 4  # <pad>, <unk> and the four words
    size = sum(p.stat().st_size for p in directory.iterdir() if p.is_file())
    assert f["size_mb"] == round(size / 1e6, 2)
    assert f["dev_main"] == 0.84706
    assert f["dev_micro"] == _row(0.9, 0.8, 0.84706, 10)
    assert f["dev_accuracy"] == 0.97531
    assert (f["best_epoch"], f["epochs_run"], f["seconds_per_epoch"]) == (3, 5, 1.25)
    assert f["data"]["command"] == COMMAND
    assert f["seeds"] == []


def test_facts_without_metrics(tmp_path: Path) -> None:
    f = facts(make_model_dir(tmp_path / "untrained"))
    assert f["dev_main"] is None
    assert f["best_epoch"] is None
    assert f["data"] == {}
    assert f["seeds"] == []


def test_ner_card(tmp_path: Path) -> None:
    directory = make_model_dir(tmp_path / "tiny-ner", metrics=ner_metrics())
    write_card(directory)
    card = (directory / "README.md").read_text(encoding="utf-8")
    assert card.startswith("# tiny-ner\n")
    assert "Task: **ner** (4 labels, BIOES inside the model)." in card
    assert "- entity micro-F1 (seqeval, conlleval mode): **0.8471**" in card
    assert "- token accuracy: 0.9753" in card
    assert "- micro precision 0.9000, recall 0.8000" in card
    assert "- strict IOB2 micro-F1: 0.8242" in card
    assert "| LOC | 1.0000 | 0.7500 | 0.8571 | 4 |" in card
    assert "| PER | 0.8000 | 0.8333 | 0.8163 | 6 |" in card
    assert f"Command:\n\n```\n{COMMAND}\n```" in card
    assert "- best epoch 3 of 5 run; 1.25 s per training epoch" in card
    assert "- pretrained vectors: `none`" in card
    assert "- seed 7" in card
    assert "Seed spread" not in card
    architecture = card.split("```json\n", 1)[1].split("\n```", 1)[0]
    assert json.loads(architecture)["hidden_size"] == 8
    assert card.endswith("words.\n")


def test_pos_card_states_accuracy(tmp_path: Path) -> None:
    metrics: dict[str, Any] = {
        "task": "pos",
        "dev": {"accuracy": 0.91234, "main": 0.91234},
        "best_epoch": 1,
        "epochs_run": 1,
        "data": {"command": "tagger train pos"},
    }
    directory = make_model_dir(tmp_path / "tiny-pos", task="pos", metrics=metrics)
    write_card(directory)
    card = (directory / "README.md").read_text(encoding="utf-8")
    assert "Task: **pos** (2 labels, NONE inside the model)." in card
    assert "- token accuracy: **0.9123**" in card
    assert card.count("token accuracy") == 1  # the main score is the accuracy: one line, not two
    assert "micro precision" not in card
    assert "```\ntagger train pos\n```" in card


def test_card_seed_spread(tmp_path: Path) -> None:
    metrics = ner_metrics()
    metrics["seeds"] = [
        {"seed": 1, "dev_main": 0.80, "best_epoch": 4},
        {"seed": 2, "dev_main": 0.90, "best_epoch": 5},
    ]
    directory = make_model_dir(tmp_path / "m", metrics=metrics)
    write_card(directory)
    card = (directory / "README.md").read_text(encoding="utf-8")
    assert "## Seed spread (2 seeds, same command with `--seed N`)" in card
    assert "Dev score mean **0.8500**, standard deviation 0.0707." in card
    assert "| 1 | 0.8000 | 4 |" in card
    assert "| 2 | 0.9000 | 5 |" in card


def test_card_epoch_time_benchmark(tmp_path: Path) -> None:
    metrics = ner_metrics()
    metrics["epoch_time_benchmark"] = {"threads": 2, "median_seconds": 12.34, "epoch_seconds": [12.0, 12.34, 13.0]}
    directory = make_model_dir(tmp_path / "m", metrics=metrics)
    write_card(directory)
    card = (directory / "README.md").read_text(encoding="utf-8")
    assert "2 torch threads: median **12.3 s** over 3 epochs" in card


def test_write_curves_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    history = [
        {"epoch": 1, "loss": 3.0, "dev_score": 0.5},
        {"epoch": 2, "loss": 2.0, "dev_score": 0.7},
        {"epoch": 3, "loss": 1.5, "dev_score": 0.75},
    ]
    path = tmp_path / "training_curves.png"
    write_curves(history, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["training_curves.png"]  # no temporary file left


def test_write_curves_without_history_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "training_curves.png"
    write_curves([], path)
    assert not path.exists()


def test_card_recipe_table_and_training_data(tmp_path: Path) -> None:
    metrics = ner_metrics()
    cell = {"mean": 0.9, "std": 0.01, "n": 3}
    metrics["recipes"] = [
        {"name": "stacked", "runs": [{"best_epoch": e} for e in (9, 10, 12)], "dev_as-is": cell, "dev_lower": cell},
        {"name": "final fit", "runs": [{"best_epoch": 10, "trained_on_dev": True}], "dev_as-is": {**cell, "n": 1}},
    ]
    metrics["holdout"] = {"share": 0.1, "sentences": 40, "main": 0.5}
    metrics["trained_on_dev"] = True
    metrics["dev_casing"] = {"lower": 0.81234, "upper": 0.85678}
    directory = make_model_dir(tmp_path / "m", metrics=metrics)
    write_card(directory)
    card = (directory / "README.md").read_text(encoding="utf-8")
    assert "| stacked | 3 | 0.9000 ± 0.0100 | 0.9000 ± 0.0100 | - | - | 9, 10, 12 |" in card
    assert "| final fit (trained on dev) | 1 | 0.9000 (1 run) | - | - | - | 10 |" in card
    assert "- trained on: train without its held-out slice (10% of documents) **and dev**" in card
    assert "Dev with every token lower-cased: 0.8123; upper-cased: 0.8568." in card


def test_card_says_dev_was_not_trained_on(tmp_path: Path) -> None:
    directory = make_model_dir(tmp_path / "m", metrics=ner_metrics())
    write_card(directory)
    assert "- trained on: train; dev only for choosing the epoch" in (directory / "README.md").read_text()


def test_a_final_fit_card_leads_with_the_estimate_not_the_dev_it_trained_on(tmp_path: Path) -> None:
    metrics = ner_metrics()
    metrics["final_fit"] = {"selection": "runs/sel", "epochs": 13, "selection_dev": 0.94091}
    metrics["trained_on_dev"] = True
    directory = make_model_dir(tmp_path / "m", metrics=metrics)
    write_card(directory)
    card = (directory / "README.md").read_text(encoding="utf-8")
    estimate = card.index("**Estimated entity micro-F1 (seqeval, conlleval mode): 0.9409**")
    assert estimate < card.index("## Scores on the dev split (trained on: not an estimate)")
    assert "- entity micro-F1 (seqeval, conlleval mode): 0.8471" in card  # not in bold
    assert "for 13 epochs, the best epoch of the selection run `runs/sel`" in card


def test_a_card_states_document_consistency_and_that_its_scores_include_it(tmp_path: Path) -> None:
    directory = make_model_dir(tmp_path / "m", metrics=ner_metrics())
    write_card(directory)
    assert "document consistency" not in (directory / "README.md").read_text(encoding="utf-8")
    config = json.loads((directory / "config.json").read_text())
    config["model"]["document_consistency"] = 0.25
    (directory / "config.json").write_text(json.dumps(config))
    write_card(directory)
    card = (directory / "README.md").read_text(encoding="utf-8")
    assert "Inference: document consistency 0.25 (`document_consistency` in config.json)" in card
    assert "The scores on this card are measured with it." in card
