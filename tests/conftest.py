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


def require_datasets() -> Path:
    if not (DATASETS / "conll2003" / "train.txt").is_file():
        pytest.skip(f"datasets not found at {DATASETS}")
    return DATASETS
