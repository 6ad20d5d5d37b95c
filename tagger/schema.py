"""The JSON shape of a tagged document, shared by the HTTP service (``POST /tag``) and
the batch command (``tagger tag`` JSONL records), so output moves between them unchanged.
"""

from __future__ import annotations

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

    @classmethod
    def from_tagged(cls, doc: TaggedDocument, doc_id: str | None = None) -> DocumentOut:
        return cls(
            id=doc_id,
            sentences=[
                [
                    TokenOut(
                        text=t.text,
                        start=t.start,
                        end=t.end,
                        labels={m: Label(label=lab.label, score=round(lab.score, 4)) for m, lab in t.labels.items()},
                    )
                    for t in sent
                ]
                for sent in doc.sentences
            ],
            entities=[
                EntityOut(
                    text=e.text,
                    label=e.label,
                    start=e.start,
                    end=e.end,
                    score=round(e.score, 4),
                    model=e.model,
                    sentence=e.sentence,
                    token_start=e.token_start,
                    token_end=e.token_end,
                )
                for e in doc.entities
            ],
        )
