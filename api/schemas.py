"""Request and response bodies of ``POST /tag``; a response document is
``tagger.document.TaggedDocument``, the same record ``tagger tag`` writes as JSONL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator
from pydantic.json_schema import WithJsonSchema

from tagger.document import TaggedDocument
from tagger.io.validate import input_problem, token_pattern

EXAMPLE_TEXT = "Angela Merkel visited Paris on Monday."
TOKEN_PATTERN = token_pattern()


def _without_null(schema: dict[str, Any]) -> None:
    """A field's schema without its null alternative (null is refused)."""
    options = [o for o in schema.pop("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:
        schema.update(options[0])


class TagRequest(BaseModel):
    """Exactly one of ``text``, ``texts`` or ``tokens``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            # The rule the validator enforces, stated in the schema for clients and tools.
            "oneOf": [{"required": ["text"]}, {"required": ["texts"]}, {"required": ["tokens"]}],
            "examples": [
                {"text": EXAMPLE_TEXT},
                {"texts": [EXAMPLE_TEXT, "The U.S. Army said so."], "models": ["ner-en-conll03"]},
                {"tokens": [["John", "lives", "in", "Berlin", "."]]},
            ],
        },
    )

    # Absent rather than null: an explicit null is refused, and the schema shows no null.
    text: str | None = Field(None, description="one document", json_schema_extra=_without_null)
    texts: list[str] | None = Field(None, description="several documents", json_schema_extra=_without_null)
    # The schema states the token rule (no whitespace or control character), so schema-driven
    # clients and tests generate only tokens the service takes; lone surrogates JSON Schema cannot say.
    tokens: (
        list[list[Annotated[str, WithJsonSchema({"type": "string", "minLength": 1, "pattern": TOKEN_PATTERN})]]] | None
    ) = Field(
        None,
        description="pre-tokenized documents, one sentence each; offsets refer to the tokens joined by single spaces",
        json_schema_extra=_without_null,
    )
    models: list[str] | None = Field(None, min_length=1, description="model names (default: every loaded model)")

    @field_validator("text", "texts", "tokens", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:  # only given values are validated: this null was sent
            raise ValueError("must not be null (leave the field out instead)")
        return value

    @model_validator(mode="after")
    def _exactly_one_input(self) -> TagRequest:
        given = [name for name in ("text", "texts", "tokens") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of text, texts, tokens (got {', '.join(given) or 'none'})")
        # The rule Tagger.tag applies, in the words tagger tag uses for a JSONL record: no
        # lone surrogate anywhere; no empty token, nor one holding whitespace or a control
        # character (the tokenizer never makes one).
        problem = input_problem(self.documents(), single=self.text is not None)
        if problem is not None:
            raise ValueError(problem)
        return self

    def documents(self) -> list[str] | list[list[str]]:
        if self.text is not None:
            return [self.text]
        if self.texts is not None:
            return self.texts
        return self.tokens or []


@dataclass
class TagResponse:
    """A dataclass, like the documents in it, so the response is serialized in one
    pass by ``RESPONSE`` without validating what the tagger built."""

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(
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
    documents: list[TaggedDocument]


RESPONSE = TypeAdapter(TagResponse)


class ModelInfo(BaseModel):
    name: str
    task: str
    labels: list[str]
    dev_score: float | None = Field(
        description="the score to expect on unseen text like dev: for a model trained on dev (trained_on_dev), "
        "the dev score of the selection run that chose its epochs"
    )
    trained_on_dev: bool = Field(False, description="a final fit: dev was part of its training data")
    dev: dict[str, float | None] = Field(description="this model's own scores on dev (learnt when trained_on_dev)")
    device: str
    backend: str = Field(description="what runs the model: torch, onnx or onnx-int8 (ONNX Runtime, CPU)")
    document_consistency: float = Field(
        0.0,
        description="entity models: how strongly a name's entity type is pulled towards the types of its other "
        "mentions in the same request document (0: each sentence is labelled on its own)",
    )


class ErrorOut(BaseModel):
    detail: str | list[dict[str, object]]


def state_limits(schema: dict[str, Any], models: list[str], max_texts: int, max_chars: int) -> None:
    """Write the running service's own limits into its OpenAPI document: the loaded
    model names and the per-request sizes, which a static schema cannot know."""
    properties = schema["components"]["schemas"]["TagRequest"]["properties"]
    if models:
        properties["models"]["anyOf"][0]["items"]["enum"] = models
    properties["text"]["maxLength"] = max_chars
    properties["texts"]["maxItems"] = max_texts
    properties["texts"]["items"]["maxLength"] = max_chars
    properties["tokens"]["maxItems"] = max_texts
