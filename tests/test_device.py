"""Device selection; the CUDA paths run only where a GPU exists and skip cleanly elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tagger.device import pick_device
from tagger.errors import TaggerError
from tagger.labeler import Labeler
from tagger.pipeline import Tagger
from tagger.train import train
from tests.test_train import tiny_config

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def test_auto_picks_cuda_only_when_available() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert pick_device(None).type == expected
    assert pick_device("auto").type == expected
    assert pick_device("cpu").type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error when CUDA is missing")
def test_cuda_requested_without_cuda_is_a_clear_error() -> None:
    with pytest.raises(TaggerError, match="device 'cuda' requested but CUDA is not available"):
        pick_device("cuda")


def test_unknown_device_is_a_clear_error() -> None:
    with pytest.raises(TaggerError, match="unknown device 'tpu'"):
        pick_device("tpu")


@cuda
def test_cuda_predictions_match_cpu(ner_file: Path, tmp_path: Path) -> None:
    config = tiny_config()
    config.train.epochs = 5
    train(ner_file, ner_file, tmp_path / "m", config, log=lambda _: None, progress=False)
    sentences = [["Peter", "visited", "Berlin", "."], ["Acme", "Corp", "hired", "John"]]
    on_cpu = Labeler.load(tmp_path / "m", device="cpu").label(sentences)["m"]
    on_gpu = Labeler.load(tmp_path / "m", device="cuda").label(sentences)["m"]
    assert [[t.label for t in s] for s in on_gpu] == [[t.label for t in s] for s in on_cpu]
    for a, b in zip(on_cpu, on_gpu, strict=True):
        assert [t.score for t in a] == pytest.approx([t.score for t in b], abs=1e-4)


@cuda
def test_shipped_models_tag_on_cuda() -> None:
    from tests.conftest import MODELS

    tagger = Tagger.load([MODELS / "ner-en-conll03", MODELS / "pos-en-ewt"], device="cuda")
    doc = tagger("Angela Merkel visited Paris.")
    assert [(e.text, e.label) for e in doc.entities] == [("Angela Merkel", "PER"), ("Paris", "LOC")]
