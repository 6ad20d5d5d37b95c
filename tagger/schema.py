"""The JSON shape of a tagged document, shared by the HTTP service (``POST /tag``) and
the batch command (``tagger tag`` JSONL records), so output moves between them unchanged.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from tagger.documents import TaggedDocument


class Label(BaseModel):
    label: str
    score: float = Field(description="probability of this label (CRF marginal or softmax)")


class TokenOut(BaseModel):
    text: str
    start: int = Field(description="character offset into the document, inclusive")
    end: int = Field(description="character offset into the document, exclusive")
    labels: dict[str, Label] = Field(description="model name -> label")


class EntityOut(BaseModel):
    text: str
    label: str
    start: int
    end: int
    score: float = Field(description="mean label probability of the entity's tokens")
    model: str
    sentence: int
    token_start: int
    token_end: int


class DocumentOut(BaseModel):
    id: str | None = None
    sentences: list[list[TokenOut]]
    entities: list[EntityOut]


def document_dict(doc: TaggedDocument, doc_id: str | None = None) -> dict[str, Any]:
    """A tagged document as plain JSON data in the ``DocumentOut`` shape.

    Built directly rather than through pydantic validation: this runs for every
    response and every JSONL record; the tests check it validates as ``DocumentOut``.
    """
    return {
        "id": doc_id,
        "sentences": [
            [
                {
                    "text": t.text,
                    "start": t.start,
                    "end": t.end,
                    "labels": {m: {"label": lab.label, "score": round(lab.score, 4)} for m, lab in t.labels.items()},
                }
                for t in sentence
            ]
            for sentence in doc.sentences
        ],
        "entities": [
            {
                "text": e.text,
                "label": e.label,
                "start": e.start,
                "end": e.end,
                "score": round(e.score, 4),
                "model": e.model,
                "sentence": e.sentence,
                "token_start": e.token_start,
                "token_end": e.token_end,
            }
            for e in doc.entities
        ],
    }
