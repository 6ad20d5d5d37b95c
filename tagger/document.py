"""The tagged-document record, defined once.

Plain dataclasses (the library stays free of web code) annotated for pydantic, whose
``TypeAdapter`` derives from them the JSON schema of ``POST /tag`` and the serializer
used by the service and by ``tagger tag`` JSONL output. There is no second,
hand-written copy of the shape to drift from this one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from pydantic import Field, PlainSerializer, TypeAdapter

SCORE_DIGITS = 4  # scores are kept exact in Python and rounded only when written


def _rounded(score: float) -> float:
    return round(score, SCORE_DIGITS)


Score = Annotated[
    float,
    PlainSerializer(_rounded, return_type=float),
    Field(description="probability of the label (CRF marginal or softmax; entities: mean over their tokens)"),
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
