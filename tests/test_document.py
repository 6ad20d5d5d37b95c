"""tagger/document.py: the tagged-document record and its one serializer."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tagger.document import (
    DOCUMENT,
    SCORE_DIGITS,
    Entity,
    TaggedDocument,
    TaggedToken,
    TokenLabel,
    document_json,
    rounded_score,
    rounded_scores,
)


def example() -> TaggedDocument:
    return TaggedDocument(
        id="doc-1",
        text="Angela Merkel visited Paris.",
        sentences=[
            [
                TaggedToken("Angela", 0, 6, {"ner": TokenLabel("B-PER", 0.9877), "pos": TokenLabel("PROPN", 0.5)}),
                TaggedToken("Merkel", 7, 13, {"ner": TokenLabel("I-PER", 1.0), "pos": TokenLabel("PROPN", 1.0)}),
                TaggedToken("visited", 14, 21, {"ner": TokenLabel("O", 0.3333)}),
                TaggedToken("Paris", 22, 27, {"ner": TokenLabel("B-LOC", 0.1234)}),
                TaggedToken(".", 27, 28),
            ]
        ],
        entities=[
            Entity("Angela Merkel", "PER", 0, 13, 0.9938, "ner", 0, 0, 2),
            Entity("Paris", "LOC", 22, 27, 0.1234, "ner", 0, 3, 4),
        ],
    )


def read_back(doc: TaggedDocument) -> TaggedDocument:
    """What a record of ``doc`` reads back as: ``text`` dropped."""
    return dataclasses.replace(doc, text="")


def reference(doc: TaggedDocument) -> dict[str, Any]:
    """The record built by hand from the dataclass fields."""
    return {
        "id": doc.id,
        "sentences": [
            [
                {
                    "text": token.text,
                    "start": token.start,
                    "end": token.end,
                    "labels": {
                        name: {"label": label.label, "score": label.score} for name, label in token.labels.items()
                    },
                }
                for token in sentence
            ]
            for sentence in doc.sentences
        ],
        "entities": [
            {
                "text": entity.text,
                "label": entity.label,
                "start": entity.start,
                "end": entity.end,
                "score": entity.score,
                "model": entity.model,
                "sentence": entity.sentence,
                "token_start": entity.token_start,
                "token_end": entity.token_end,
            }
            for entity in doc.entities
        ],
    }


def test_score_digits() -> None:
    assert SCORE_DIGITS == 4


def test_scores_are_rounded_as_python_rounds() -> None:
    exact = [0.987654321, 0.99995, 0.333333333, 0.12344, 0.00004, 1.0, 0.5]
    want = [0.9877, 1.0, 0.3333, 0.1234, 0.0, 1.0, 0.5]
    assert [rounded_score(x) for x in exact] == want
    assert rounded_scores(np.array(exact)) == want
    # float32 confidences come back with four digits, not the float32's extra ones
    got = rounded_scores(np.array([[0.987654321, 0.12344]], dtype=np.float32))
    assert got == [[0.9877, 0.1234]] and all(len(repr(x)) <= 6 for x in got[0])
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.random(20_000), rng.random(20_000).astype(np.float32)])
    assert rounded_scores(values) == [round(float(x), 4) for x in values]


def test_record_of_the_example() -> None:
    record = json.loads(document_json(example()))
    assert list(record) == ["id", "sentences", "entities"]
    assert record["id"] == "doc-1"
    angela = record["sentences"][0][0]
    assert list(angela) == ["text", "start", "end", "labels"]
    assert angela == {
        "text": "Angela",
        "start": 0,
        "end": 6,
        "labels": {"ner": {"label": "B-PER", "score": 0.9877}, "pos": {"label": "PROPN", "score": 0.5}},
    }
    assert record["sentences"][0][1]["labels"]["ner"]["score"] == 1.0
    assert record["sentences"][0][3]["labels"]["ner"]["score"] == 0.1234
    assert record["sentences"][0][4] == {"text": ".", "start": 27, "end": 28, "labels": {}}
    assert list(record["entities"][0]) == [
        "text",
        "label",
        "start",
        "end",
        "score",
        "model",
        "sentence",
        "token_start",
        "token_end",
    ]
    assert record["entities"][0]["score"] == 0.9938
    assert record["entities"][1] == {
        "text": "Paris",
        "label": "LOC",
        "start": 22,
        "end": 27,
        "score": 0.1234,
        "model": "ner",
        "sentence": 0,
        "token_start": 3,
        "token_end": 4,
    }
    assert record == reference(example())


def test_record_reads_back_whole_but_without_text() -> None:
    doc = example()
    back = DOCUMENT.validate_json(document_json(doc))
    assert back == read_back(doc)
    assert back.text == ""
    assert back != doc  # the text stays in Python only
    assert doc.text == "Angela Merkel visited Paris."


def test_record_is_one_utf8_line() -> None:
    doc = TaggedDocument(id="é\n", sentences=[[TaggedToken('Zürich\n"\t', 0, 9), TaggedToken("\U0001f600", 10, 11)]])
    line = document_json(doc)
    assert isinstance(line, bytes)
    assert b"\n" not in line
    assert "Zürich".encode() in line  # UTF-8 as is, not \u escapes
    assert "\U0001f600".encode() in line
    assert json.loads(line)["sentences"][0][0]["text"] == 'Zürich\n"\t'


def test_defaults() -> None:
    doc = TaggedDocument(sentences=[])
    assert document_json(doc) == b'{"id":null,"sentences":[],"entities":[]}'
    assert DOCUMENT.validate_json(b'{"sentences":[[{"text":"a","start":0,"end":1}]]}') == TaggedDocument(
        sentences=[[TaggedToken("a", 0, 1)]]
    )


def test_text_is_not_in_the_schema() -> None:
    schema = DOCUMENT.json_schema(mode="serialization")
    assert list(schema["properties"]) == ["id", "sentences", "entities"]
    token = schema["$defs"]["TaggedToken"]
    assert list(token["properties"]) == ["text", "start", "end", "labels"]
    assert "inclusive" in token["properties"]["start"]["description"]


no_surrogates = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
scores = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False) | st.floats(0, 1)
offsets = st.integers(min_value=0, max_value=2**31)
labels = st.builds(TokenLabel, label=no_surrogates, score=scores)
tokens = st.builds(
    TaggedToken,
    text=no_surrogates,
    start=offsets,
    end=offsets,
    labels=st.dictionaries(no_surrogates, labels, max_size=3),
)
entities = st.builds(
    Entity,
    text=no_surrogates,
    label=no_surrogates,
    start=offsets,
    end=offsets,
    score=scores,
    model=no_surrogates,
    sentence=st.integers(0, 1000),
    token_start=st.integers(0, 1000),
    token_end=st.integers(0, 1000),
)
documents = st.builds(
    TaggedDocument,
    id=st.none() | no_surrogates,
    sentences=st.lists(st.lists(tokens, max_size=4), max_size=3),
    entities=st.lists(entities, max_size=3),
    text=no_surrogates,
)


@settings(max_examples=200, derandomize=True, deadline=None, database=None)
@given(documents)
def test_serializer_agrees_with_the_record_definition(doc: TaggedDocument) -> None:
    line = document_json(doc)
    assert b"\n" not in line
    record = json.loads(line)
    assert record == reference(doc)
    assert list(record) == ["id", "sentences", "entities"]
    for sentence, expected in zip(record["sentences"], reference(doc)["sentences"], strict=True):
        for token, want in zip(sentence, expected, strict=True):
            assert list(token) == ["text", "start", "end", "labels"]
            assert list(token["labels"]) == list(want["labels"])  # model order is kept
    assert DOCUMENT.validate_json(line) == read_back(doc)
