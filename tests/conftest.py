from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
DATASETS = Path(os.environ.get("TAGGER_DATASETS", ROOT.parent / "shared" / "datasets"))
MODELS = ROOT / "models"

torch.set_num_threads(min(2, torch.get_num_threads()))

NER_TRAIN = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
lives VBZ B-VP O
in IN B-PP O
Berlin NNP B-NP B-LOC
. . O O

John NNP B-NP B-PER
visited VBD B-VP O
New NNP B-NP B-LOC
York NNP I-NP I-LOC
with IN B-PP O
Acme NNP B-NP B-ORG
Corp NNP I-NP I-ORG
. . O O
"""


@pytest.fixture
def ner_file(tmp_path: Path) -> Path:
    path = tmp_path / "train.txt"
    path.write_text(NER_TRAIN, encoding="utf-8")
    return path


@pytest.fixture
def model_dir(ner_file: Path, tmp_path: Path) -> Path:
    """A tiny NER model directory, trained for two epochs on ``ner_file``."""
    from tagger.train import train
    from tests.test_train import tiny_config

    config = tiny_config()
    config.train.epochs = 2
    train(ner_file, ner_file, tmp_path / "m", config, log=lambda _: None, progress=False)
    return tmp_path / "m"


def require_datasets() -> Path:
    if not (DATASETS / "conll2003" / "train.txt").is_file():
        pytest.skip(f"datasets not found at {DATASETS}")
    return DATASETS


def tiny_loaded_model(name: str = "tiny", labels: tuple[str, ...] = ("O", "B-PER", "I-PER")) -> object:
    """A small untrained model (random weights, fixed seed): fast enough for property
    tests over thousands of tokens, real enough to exercise every step of inference."""
    from tagger import checkpoint
    from tagger.checkpoint import LoadedModel
    from tagger.config import Config
    from tagger.tags import TagScheme
    from tagger.vocab import build_vocab

    torch.manual_seed(0)
    config = Config()
    config.model.word_dim, config.model.hidden_size, config.model.char_hidden, config.model.char_dim = 8, 8, 4, 4
    scheme = TagScheme.IOB2 if len(labels) > 1 and labels[1].startswith("B-") else TagScheme.NONE
    vocab = build_vocab(["w", "x", "y"], list(labels), min_count=1)
    model = checkpoint.build_model(config, vocab, scheme)
    model.eval()
    return LoadedModel(Path(name), config, vocab, "ner" if scheme != TagScheme.NONE else "pos", scheme, model=model)
