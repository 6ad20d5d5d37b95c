from __future__ import annotations

from pathlib import Path

from tagger.resources import DEFAULT_MODEL_NAMES, default_model_paths, default_models_dir

CHECKOUT_MODELS = Path(__file__).resolve().parent.parent / "models"


def test_default_model_names() -> None:
    assert DEFAULT_MODEL_NAMES == ("ner-en-conll03", "pos-en-ewt")


def test_default_models_dir_is_the_checkout_folder() -> None:
    assert default_models_dir() == CHECKOUT_MODELS


def test_default_model_paths_point_into_the_checkout() -> None:
    assert default_model_paths() == [CHECKOUT_MODELS / "ner-en-conll03", CHECKOUT_MODELS / "pos-en-ewt"]


def test_default_models_exist() -> None:
    for path in default_model_paths():
        assert path.is_dir(), path
        for name in ("config.json", "vocab.json", "model.safetensors"):
            assert (path / name).is_file(), path / name
