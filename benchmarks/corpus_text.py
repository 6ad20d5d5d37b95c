"""Raw text for the benchmarks: CoNLL-2003 dev sentences detokenized with Moses, with the
character span of every gold token, so predictions on raw text can be scored by offsets.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tagger.corpus import read_corpus  # noqa: E402

DATA = ROOT.parent / "shared" / "datasets"
Span = tuple[int, int]
_SKIP = re.compile(r"[\s\u200b-\u200d\u2060\ufeff]*")


def align(text: str, forms: Sequence[str]) -> list[Span] | None:
    """Character spans of ``forms`` laid left to right over ``text``, skipping whitespace.

    Returns ``None`` when a form is not found where expected (the gold forms and the
    text disagree, e.g. a typo-corrected form); such sentences are left out.
    """
    spans: list[Span] = []
    pos = 0
    for form in forms:
        m = _SKIP.match(text, pos)
        pos = m.end() if m else pos
        if not text.startswith(form, pos):
            return None
        spans.append((pos, pos + len(form)))
        pos += len(form)
    return spans


@dataclass
class RawSentence:
    tokens: list[str]
    tags: list[str]
    text: str  # Moses-detokenized
    spans: list[Span] | None  # character span of each gold token in ``text``


def conll_dev_text(data: Path = DATA) -> list[RawSentence]:
    from sacremoses import MosesDetokenizer

    detok = MosesDetokenizer(lang="en")
    out = []
    for sent in read_corpus(data / "conll2003" / "valid.txt"):
        text = detok.detokenize(sent.tokens)
        out.append(RawSentence(sent.tokens, sent.tags, text, align(text, sent.tokens)))
    return out
