"""What a tagged document looks like: tokens with offsets and per-model labels, and
entities with character offsets. Plain dataclasses, so the library stays free of web
code; the service and the batch command convert them to their JSON schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TokenLabel:
    label: str
    score: float


@dataclass
class TaggedToken:
    text: str
    start: int  # character offsets into the document text
    end: int
    labels: dict[str, TokenLabel] = field(default_factory=dict)  # model name -> label


@dataclass
class Entity:
    text: str
    label: str
    start: int  # character offsets into the document text
    end: int
    score: float  # mean CRF marginal of the entity's tokens
    model: str
    sentence: int  # index of the sentence in the document
    token_start: int  # token span within that sentence, end exclusive
    token_end: int


@dataclass
class TaggedDocument:
    text: str
    sentences: list[list[TaggedToken]]
    entities: list[Entity]
