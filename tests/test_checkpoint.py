from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from tagger import checkpoint
from tagger.errors import ModelDirError


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


def test_metrics_that_are_not_an_object_are_a_clear_error(model_dir: Path) -> None:
    (model_dir / "metrics.json").write_text("[1, 2]")
    with pytest.raises(ModelDirError, match=r"metrics.json: expected a JSON object, found list"):
        checkpoint.load(model_dir)


def test_weights_linked_from_outside_the_directory_are_refused(model_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.safetensors"
    (model_dir / "model.safetensors").rename(outside)
    (model_dir / "model.safetensors").symlink_to(outside)
    with pytest.raises(ModelDirError, match=r"model.safetensors: links outside its model directory"):
        checkpoint.load(model_dir)


def test_a_config_asking_for_huge_layers_fails_on_shapes_before_allocating(model_dir: Path) -> None:
    import resource

    config = json.loads((model_dir / "config.json").read_text())
    config["model"]["hidden_size"] = 8192
    config["model"]["num_layers"] = 16  # about 70 GB of LSTM weights if it were built
    (model_dir / "config.json").write_text(json.dumps(config))
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ModelDirError, match=r"weights do not match config.json/vocab.json"):
        checkpoint.load(model_dir)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 200_000  # kB


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (["O", "FOO", "B-PER", "I-PER"], "label 'FOO' is not an entity tag of scheme"),
        ([0, 1, 2], "labels must be a list of strings"),
        ({"O": 0}, "labels must be a list of strings"),
    ],
)
def test_damaged_labels_name_the_file_on_every_backend(model_dir: Path, labels: object, message: str) -> None:
    """Regression: a renamed label or labels of the wrong type raised ValueError/TypeError
    from deep in the model code, naming no file."""
    from tagger.labeler import Labeler

    vocab = json.loads((model_dir / "vocab.json").read_text())
    vocab["labels"] = labels
    (model_dir / "vocab.json").write_text(json.dumps(vocab))
    for load in (lambda: checkpoint.load(model_dir), lambda: Labeler.load(model_dir, device="cpu")):
        with pytest.raises(ModelDirError) as refused:
            load()
        assert str(refused.value).startswith(f"{model_dir / 'vocab.json'}: ")
        assert message in str(refused.value)


def test_a_vocabulary_without_its_words_says_which_field(model_dir: Path) -> None:
    vocab = json.loads((model_dir / "vocab.json").read_text())
    del vocab["words"]
    (model_dir / "vocab.json").write_text(json.dumps(vocab))
    with pytest.raises(ModelDirError, match=r"vocab\.json: invalid vocabulary: missing field 'words'$"):
        checkpoint.load(model_dir)


def test_a_task_that_contradicts_the_label_scheme_is_refused(model_dir: Path) -> None:
    """Regression: label_scheme "none" on an NER model loaded, and found no entity, ever."""
    config = json.loads((model_dir / "config.json").read_text())
    config["label_scheme"] = "none"
    (model_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelDirError, match=r"config\.json: task 'ner' needs an entity label scheme, not 'none'"):
        checkpoint.load(model_dir)
