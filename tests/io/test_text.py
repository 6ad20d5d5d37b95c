"""Plain text: paragraphs (documents separated by blank lines) and one document per line."""

from __future__ import annotations

import io

from tagger.io import text
from tagger.io.text import read_lines, read_paragraphs


def test_paragraphs_keep_inner_newlines_and_their_first_line() -> None:
    got = list(read_paragraphs(io.BytesIO(b"a\nb\n\n\nc\n")))
    assert [(r.text, r.line) for r in got] == [("a\nb", 1), ("c", 5)]


def test_a_bad_line_ends_the_paragraph_before_it() -> None:
    got = list(read_paragraphs(io.BytesIO(b"a\n\xff\nb\n")))
    assert [(r.text, r.error, r.line) for r in got] == [
        ("a", None, 1),
        (None, "invalid UTF-8 byte 0xff at column 1", 2),
        ("b", None, 3),
    ]


def test_text_without_blank_lines_is_cut_into_bounded_documents(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(text, "MAX_DOCUMENT_CHARS", 10)
    got = list(read_paragraphs(io.BytesIO(b"aaaa\nbbbb\ncccc\ndddd\n")))
    assert all(len(r.text or "") <= 14 for r in got) and len(got) == 2


def test_lines_gives_one_record_per_line_empty_ones_included() -> None:
    got = list(read_lines(io.BytesIO(b"a\n\nb\r\n")))
    assert [(r.text, r.line) for r in got] == [("a", 1), ("", 2), ("b", 3)]
