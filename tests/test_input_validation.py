"""The rule for pre-tokenized input, shared by POST /tag and ``Tagger.tag``: a token is
never empty, never begins or ends with whitespace, an invisible separator or a control
character (the tokenizer drops those), and holds no control character or line break;
inner spaces are the user's tokenization (CoNLL-U forms such as ``10 000``)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagger.io.validate import NOT_AT_TOKEN_EDGE, input_problem, token_pattern, token_problem
from tagger.tokenize import tokenize

SURROGATES = range(0xD800, 0xE000)


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("", "empty token"),
        (" ", "token holds only whitespace or control characters"),
        ("\n\t\x00\u200b", "token holds only whitespace or control characters"),
        (" Paris", "whitespace \\u0020 at the start of the token"),
        ("Paris\u200b", "whitespace \\u200b at the end of the token"),
        ("\ufeffa", "whitespace \\ufeff at the start of the token"),
        ("ab\x85", "control character or line break \\u0085 at character 2"),
        ("New\nYork", "control character or line break \\u000a at character 3"),
        ("a\u2028b", "control character or line break \\u2028 at character 1"),
        ("a\x00b", "control character or line break \\u0000 at character 1"),
        ("ab\udc00", "lone surrogate \\udc00 at character 2"),
        ("New York", None),
        ("10\u00a0000", None),
        ("a\u3000b", None),
        ("👩\u200d👧", None),
        ("Paris", None),
        ("e\u0301", None),
        ("👍🏽", None),
        ("東京", None),
        ("U.S.", None),
    ],
)
def test_token_problem(token: str, problem: str | None) -> None:
    assert token_problem(token) == problem


def test_input_problem_names_the_first_bad_place_as_the_service_fields_do() -> None:
    assert input_problem(["a b", ["x", "y"]]) is None
    assert input_problem([["x"], ["y", "z", " "]]) == (
        "field 'tokens[1][2]': token holds only whitespace or control characters"
    )
    assert input_problem(["ok", "\ud800"]) == "field 'texts[1]': lone surrogate \\ud800 at character 0"
    assert input_problem(["\ud800"], single=True) == "field 'text': lone surrogate \\ud800 at character 0"
    assert input_problem([" raw text keeps its spaces\n\x00"]) is None  # the tokenizer drops them from text


def test_the_characters_refused_at_a_token_edge_are_exactly_those_the_tokenizer_never_keeps() -> None:
    wrong = []
    for code in range(0x110000):
        if code in SURROGATES:
            continue  # a problem of their own, in text as in tokens
        char = chr(code)
        refused = NOT_AT_TOKEN_EDGE.search(char) is not None
        if code > 0xFFFF:  # none astral is refused: token_pattern spells out the BMP only
            if refused:
                wrong.append(f"U+{code:04X} (astral)")
            continue
        kept = any(char in t.text for sentence in tokenize(f"a{char}b {char}") for t in sentence)
        if refused == kept:
            wrong.append(f"U+{code:04X}")
    assert wrong == []


def test_the_schema_pattern_accepts_what_token_problem_accepts() -> None:
    pattern = re.compile(token_pattern())
    for code in range(0x10000):
        if code in SURROGATES:
            continue
        for token in (f"a{chr(code)}", f"{chr(code)}a", f"a{chr(code)}b", chr(code)):
            assert (pattern.fullmatch(token) is not None) == (token_problem(token) is None), (
                f"U+{code:04X} in {token!r}"
            )
    assert pattern.fullmatch("\U0001f600") and not pattern.fullmatch("")


@given(st.text(max_size=60))
def test_every_token_the_tokenizer_makes_is_accepted(text: str) -> None:
    for sentence in tokenize(text):
        for token in sentence:
            assert token_problem(token.text) is None
