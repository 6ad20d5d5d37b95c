"""Device selection; the CUDA paths run only where a GPU exists and skip cleanly elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tagger.device import cpu_has_vnni, pick_device
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


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ("fpu sse2 avx2 avx512f avx512_vnni avx512_bf16", True),  # AMD Zen 4/5, Intel Cascade Lake on
        ("fpu sse2 avx2 avx_vnni", True),  # Intel Alder Lake: VNNI without AVX-512
        ("fpu sse2 avx2 avx512f avx512bw", False),  # Skylake-SP: AVX-512 but no VNNI
        ("fpu sse2 avx2 avx512_vnnix", False),  # a whole flag, not a prefix
    ],
)
def test_cpu_has_vnni_reads_the_flags_line(tmp_path: Path, flags: str, expected: bool) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\n")
    assert cpu_has_vnni(str(cpuinfo)) is expected


def test_cpu_has_vnni_is_false_without_cpuinfo(tmp_path: Path) -> None:
    assert cpu_has_vnni(str(tmp_path / "missing")) is False
