"""Request and response bodies of ``POST /tag`` (also the JSONL records of ``tagger tag``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tagger.documents import TaggedDocument

EXAMPLE_TEXT = "Angela Merkel visited Paris on Monday."


class TagRequest(BaseModel):
    """Exactly one of ``text``, ``texts`` or ``tokens``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"text": EXAMPLE_TEXT},
                {"texts": [EXAMPLE_TEXT, "The U.S. Army said so."], "models": ["ner-en-conll03"]},
                {"tokens": [["John", "lives", "in", "Berlin", "."]]},
            ]
        },
    )

    text: str | None = Field(None, description="one document")
    texts: list[str] | None = Field(None, description="several documents")
    tokens: list[list[str]] | None = Field(
        None,
        description="pre-tokenized documents, one sentence each; offsets refer to the tokens joined by single spaces",
    )
    models: list[str] | None = Field(None, description="model names (default: every loaded model)")

    @model_validator(mode="after")
    def _exactly_one_input(self) -> TagRequest:
        given = [name for name in ("text", "texts", "tokens") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of text, texts, tokens (got {', '.join(given) or 'none'})")
        if self.tokens is not None and any(t == "" for doc in self.tokens for t in doc):
            raise ValueError("tokens must be non-empty strings")
        return self

    def documents(self) -> list[str] | list[list[str]]:
        if self.text is not None:
            return [self.text]
        if self.texts is not None:
            return self.texts
        return self.tokens or []


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


class TagResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "models": ["ner-en-conll03"],
                    "documents": [
                        {
                            "id": None,
                            "sentences": [
                                [
                                    {
                                        "text": "Paris",
                                        "start": 0,
                                        "end": 5,
                                        "labels": {"ner-en-conll03": {"label": "B-LOC", "score": 0.9991}},
                                    },
                                ]
                            ],
                            "entities": [
                                {
                                    "text": "Paris",
                                    "label": "LOC",
                                    "start": 0,
                                    "end": 5,
                                    "score": 0.9991,
                                    "model": "ner-en-conll03",
                                    "sentence": 0,
                                    "token_start": 0,
                                    "token_end": 1,
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )

    models: list[str]
    documents: list[DocumentOut]


class ModelInfo(BaseModel):
    name: str
    task: str
    labels: list[str]
    dev_score: float | None
    dev: dict[str, float | None]
    device: str


class ErrorOut(BaseModel):
    detail: str | list[dict[str, object]]
