"""api/schemas.py: what POST /tag accepts and the shape of what it answers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from api.schemas import EXAMPLE_TEXT, RESPONSE, TagRequest, TagResponse
from tagger.document import Entity, TaggedDocument, TaggedToken, TokenLabel


def rejection(**body: Any) -> dict[str, Any]:
    """The single error pydantic gives for a request body."""
    with pytest.raises(ValidationError) as caught:
        TagRequest(**body)
    errors = caught.value.errors()
    assert len(errors) == 1, errors
    return dict(errors[0])


@pytest.mark.parametrize(
    ("body", "given"),
    [
        ({}, "none"),
        ({"models": ["ner"]}, "none"),
        ({"text": "a", "texts": ["b"]}, "text, texts"),
        ({"text": "a", "tokens": [["b"]]}, "text, tokens"),
        ({"texts": ["a"], "tokens": [["b"]]}, "texts, tokens"),
        ({"text": "a", "texts": ["b"], "tokens": [["c"]]}, "text, texts, tokens"),
    ],
)
def test_exactly_one_input(body: dict[str, Any], given: str) -> None:
    error = rejection(**body)
    assert error["type"] == "value_error"
    assert error["msg"] == f"Value error, give exactly one of text, texts, tokens (got {given})"


def test_explicit_nulls_are_refused_as_the_schema_says() -> None:
    """The OpenAPI schema shows no null for text/texts/tokens (schemathesis holds the
    service to it): a null is refused at its field, not read as absent."""
    with pytest.raises(ValidationError) as err:
        TagRequest.model_validate({"text": "a", "texts": None})
    assert err.value.errors()[0]["loc"] == ("texts",)
    assert "must not be null (leave the field out instead)" in err.value.errors()[0]["msg"]


@pytest.mark.parametrize(
    "body",
    [{"text": EXAMPLE_TEXT}, {"texts": ["a", "b"], "models": ["ner"]}, {"tokens": [["John", "lives"], ["x"]]}],
)
def test_one_input_is_accepted(body: dict[str, Any]) -> None:
    request = TagRequest.model_validate(body)
    assert request.models == body.get("models")


def test_documents() -> None:
    assert TagRequest(text=EXAMPLE_TEXT).documents() == [EXAMPLE_TEXT]
    assert TagRequest(texts=["a", "b c"]).documents() == ["a", "b c"]
    assert TagRequest(tokens=[["John", "lives"], ["Berlin"]]).documents() == [["John", "lives"], ["Berlin"]]
    assert TagRequest(text="").documents() == [""]
    assert TagRequest(texts=[]).documents() == []


def test_empty_token_string_is_rejected() -> None:
    error = rejection(tokens=[["John", ""], ["x"]])
    assert error["msg"] == "Value error, field 'tokens[0][1]': empty token"


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        ([["a"], [" ", "\n", "Paris"]], "field 'tokens[1][0]': token holds only whitespace or control characters"),
        ([["New York "]], "field 'tokens[0][0]': whitespace \\u0020 at the end of the token"),
    ],
)
def test_whitespace_in_a_token_is_rejected(tokens: list[list[str]], message: str) -> None:
    assert rejection(tokens=tokens)["msg"] == f"Value error, {message}"


def test_schema_states_the_token_rule() -> None:
    token = TagRequest.model_json_schema()["properties"]["tokens"]["items"]["items"]
    assert token["minLength"] == 1 and token["pattern"].startswith("^[^\\u0000-\\u0020")


def test_extra_field_is_rejected() -> None:
    error = rejection(text="a", model="ner")
    assert error["type"] == "extra_forbidden"
    assert error["loc"] == ("model",)


def test_wrong_types_are_rejected() -> None:
    assert rejection(texts="not a list")["loc"] == ("texts",)
    error = rejection(tokens=["flat"])
    assert (error["type"], error["loc"], error["msg"]) == ("list_type", ("tokens", 0), "Input should be a valid list")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": "\ud800"}, "field 'text': lone surrogate \\ud800 at character 0"),
        ({"text": "ab\udc00"}, "field 'text': lone surrogate \\udc00 at character 2"),
        ({"texts": ["fine", "ab\ud800c"]}, "field 'texts[1]': lone surrogate \\ud800 at character 2"),
        ({"texts": ["\udfff", "\ud800"]}, "field 'texts[0]': lone surrogate \\udfff at character 0"),
        ({"tokens": [["a"], ["b", "x\udfff"]]}, "field 'tokens[1][1]': lone surrogate \\udfff at character 1"),
        ({"tokens": [["\ud83d"]]}, "field 'tokens[0][0]': lone surrogate \\ud83d at character 0"),
    ],
)
def test_lone_surrogate_is_rejected(body: dict[str, Any], message: str) -> None:
    error = rejection(**body)
    assert error["type"] == "value_error"
    assert error["msg"] == f"Value error, {message}"


def test_astral_characters_are_fine() -> None:
    assert TagRequest(text="emoji \U0001f600 ok").documents() == ["emoji \U0001f600 ok"]
    assert TagRequest(tokens=[["\U0001f600"]]).documents() == [["\U0001f600"]]


def test_request_schema_has_examples() -> None:
    schema = TagRequest.model_json_schema()
    assert {"text": EXAMPLE_TEXT} in schema["examples"]
    for example in schema["examples"]:
        TagRequest.model_validate(example)  # every documented example is a valid request
    assert schema["additionalProperties"] is False


def tagged_document() -> TaggedDocument:
    return TaggedDocument(
        id="d1",
        text="Paris is",
        sentences=[
            [
                TaggedToken("Paris", 0, 5, {"ner": TokenLabel("B-LOC", 0.1235)}),
                TaggedToken("is", 6, 8),
            ]
        ],
        entities=[Entity("Paris", "LOC", 0, 5, 0.1235, "ner", 0, 0, 1)],
    )


def test_response_json() -> None:
    body = json.loads(RESPONSE.dump_json(TagResponse(models=["ner"], documents=[tagged_document()])))
    assert list(body) == ["models", "documents"]
    assert body["models"] == ["ner"]
    (document,) = body["documents"]
    assert list(document) == ["id", "sentences", "entities"]
    assert "text" not in document
    assert document["id"] == "d1"
    assert document["sentences"] == [
        [
            {"text": "Paris", "start": 0, "end": 5, "labels": {"ner": {"label": "B-LOC", "score": 0.1235}}},
            {"text": "is", "start": 6, "end": 8, "labels": {}},
        ]
    ]
    assert document["entities"] == [
        {
            "text": "Paris",
            "label": "LOC",
            "start": 0,
            "end": 5,
            "score": 0.1235,
            "model": "ner",
            "sentence": 0,
            "token_start": 0,
            "token_end": 1,
        }
    ]


def test_response_writes_the_scores_and_keeps_the_text_in_python() -> None:
    document = tagged_document()
    body = json.loads(RESPONSE.dump_json(TagResponse(models=["ner"], documents=[document])))
    # Scores are rounded where the labeler makes them (tagger.document.SCORE_DIGITS): written as they are.
    assert body["documents"][0]["entities"][0]["score"] == document.entities[0].score == 0.1235
    assert document.text == "Paris is"


def test_empty_response() -> None:
    assert json.loads(RESPONSE.dump_json(TagResponse(models=[], documents=[]))) == {"models": [], "documents": []}
    empty = TaggedDocument(sentences=[])
    assert json.loads(RESPONSE.dump_json(TagResponse(models=["ner"], documents=[empty]))) == {
        "models": ["ner"],
        "documents": [{"id": None, "sentences": [], "entities": []}],
    }


def test_response_schema_has_examples() -> None:
    schema = RESPONSE.json_schema(mode="serialization")
    assert set(schema["required"]) == {"models", "documents"}
    (example,) = schema["examples"]
    assert example["models"] == ["ner-en-conll03"]
    document = example["documents"][0]
    assert document["entities"][0]["label"] == "LOC"
    assert document["sentences"][0][0]["labels"]["ner-en-conll03"] == {"label": "B-LOC", "score": 0.9991}
    tagged = schema["$defs"]["TaggedDocument"]
    assert set(tagged["properties"]) == {"id", "sentences", "entities"}  # text is excluded from records
    assert tagged["properties"]["sentences"]["items"]["items"] == {"$ref": "#/$defs/TaggedToken"}


def test_response_example_matches_the_record() -> None:
    """The documented example is what RESPONSE itself writes for the same data."""
    (example,) = RESPONSE.json_schema(mode="serialization")["examples"]
    parsed = RESPONSE.validate_python(example)
    assert json.loads(RESPONSE.dump_json(parsed)) == example
