"""The shared input checks."""

from __future__ import annotations

import io

from tagger.io.validate import decode_lines, text_problem, utf8_problem


def test_utf8_problem_names_the_byte_and_column() -> None:
    assert utf8_problem("café".encode()) is None
    assert utf8_problem(b"ab\xe9cd") == "invalid UTF-8 byte 0xe9 at column 3"


def test_text_problem_finds_lone_surrogates_only() -> None:
    assert text_problem("👩‍👩‍👧 \x00 e\u0301") is None
    assert text_problem("ab\udc00") == "lone surrogate \\udc00 at character 2"


def test_decode_lines_drops_bom_and_line_endings() -> None:
    got = list(decode_lines(io.BytesIO(b"\xef\xbb\xbfa\r\n\xff\nb")))
    assert got == [(1, "a", ""), (2, None, "invalid UTF-8 byte 0xff at column 1"), (3, "b", "")]
