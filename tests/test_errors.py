from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from tagger.errors import CorpusError, ModelDirError, TaggerError


def test_corpus_error_message_and_attributes() -> None:
    error = CorpusError("data/train.txt", 12, "missing tag: a token with no tag column")
    assert str(error) == "data/train.txt:12: missing tag: a token with no tag column"
    assert error.path == "data/train.txt"
    assert error.line == 12
    assert error.detail == "missing tag: a token with no tag column"


def test_corpus_error_accepts_a_path() -> None:
    error = CorpusError(Path("corpus") / "dev.conllu", 0, "no such file")
    assert str(error) == "corpus/dev.conllu:0: no such file"
    assert error.path == "corpus/dev.conllu"
    assert isinstance(error.path, str)


def test_error_hierarchy() -> None:
    assert issubclass(CorpusError, TaggerError)
    assert issubclass(ModelDirError, TaggerError)
    assert issubclass(TaggerError, Exception)
    with pytest.raises(TaggerError, match=r"^a\.txt:3: bad$"):
        raise CorpusError("a.txt", 3, "bad")


def test_model_dir_error_message() -> None:
    assert str(ModelDirError("m/config.json: missing file")) == "m/config.json: missing file"


def test_corpus_error_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(CorpusError("a.txt", 3, "bad")))
    assert str(error) == "a.txt:3: bad"
    assert (error.path, error.line, error.detail) == ("a.txt", 3, "bad")
