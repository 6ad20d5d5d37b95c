"""The tagged-document record, defined once.

Plain dataclasses (the library stays free of web code) annotated for pydantic, whose
``TypeAdapter`` derives from them the JSON schema of ``POST /tag`` and the serializer
used by the service and by ``tagger tag`` JSONL output. There is no second,
hand-written copy of the shape to drift from this one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
from pydantic import Field, TypeAdapter

# Scores are rounded where they are made (``rounded_scores``, ``rounded_score``), so a
# Python caller sees what a record says, and an entity's score is the mean of the scores
# its tokens show. Rounding in the serializer instead cost a Python call per score from
# inside pydantic's Rust serializer: 60% of the time of writing a record.
SCORE_DIGITS = 4


def rounded_scores(scores: np.ndarray) -> list[Any]:
    """``scores`` (any shape) as nested lists of floats rounded to ``SCORE_DIGITS``;
    equal to Python's ``round`` of each (float64 first: a float32's digits past the
    fourth would survive the division)."""
    return np.round(np.asarray(scores, dtype=np.float64), SCORE_DIGITS).tolist()  # type: ignore[no-any-return]


def rounded_score(score: float) -> float:
    return round(score, SCORE_DIGITS)


Score = Annotated[
    float,
    Field(
        description="probability of the label (CRF marginal or softmax; entities: mean over their tokens), "
        f"rounded to {SCORE_DIGITS} digits"
    ),
]


@dataclass
class TokenLabel:
    label: str
    score: Score


@dataclass
class TaggedToken:
    text: str
    start: Annotated[int, Field(description="character offset into the document, inclusive")]
    end: Annotated[int, Field(description="character offset into the document, exclusive")]
    labels: Annotated[dict[str, TokenLabel], Field(description="model name -> label")] = field(default_factory=dict)


@dataclass
class Entity:
    text: str
    label: str
    start: Annotated[int, Field(description="character offset into the document, inclusive")]
    end: Annotated[int, Field(description="character offset into the document, exclusive")]
    score: Score
    model: str
    sentence: Annotated[int, Field(description="index of the sentence in the document")]
    token_start: Annotated[int, Field(description="first token of the entity within its sentence")]
    token_end: Annotated[int, Field(description="token after the entity within its sentence")]


@dataclass(kw_only=True)
class TaggedDocument:
    """One document: its sentences of tokens (as the input had them, never cut) and its
    entities, sorted by start offset. ``text`` is for Python callers; records omit it."""

    id: str | None = None
    sentences: list[list[TaggedToken]]
    entities: list[Entity] = field(default_factory=list)
    text: Annotated[str, Field(exclude=True)] = ""


DOCUMENT = TypeAdapter(TaggedDocument)


def document_json(doc: TaggedDocument) -> bytes:
    """The JSON record of a document (UTF-8, one line), as ``POST /tag`` and JSONL give it."""
    return DOCUMENT.dump_json(doc)
