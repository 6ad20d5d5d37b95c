"""Plain text: paragraphs (documents separated by blank lines) and one document per line."""

from __future__ import annotations

import io

from tagger.io.text import read_lines, read_paragraphs
from tagger.io.validate import MAX_DOCUMENT_CHARS


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


def test_text_without_blank_lines_is_cut_into_bounded_documents() -> None:
    got = list(read_paragraphs(io.BytesIO(b"aaaa\nbbbb\ncccc\ndddd\n"), limit=10))
    assert [r.text for r in got] == ["aaaa\nbbbb", "cccc\ndddd"] and [r.line for r in got] == [1, 3]


def test_a_long_line_is_cut_at_whitespace_into_bounded_documents() -> None:
    line = b"word " * 10 + b"x" * 25
    got = list(read_paragraphs(io.BytesIO(line + b"\n"), limit=12))
    assert "".join(r.text or "" for r in got) == line.decode()
    assert all(len(r.text or "") <= 12 for r in got)
    assert got[0].text == "word word "


def test_a_line_longer_than_a_document_is_a_bad_record_in_lines_format() -> None:
    (ok, bad) = read_lines(io.BytesIO(b"short\n" + b"a" * (MAX_DOCUMENT_CHARS + 1) + b"\n"))
    assert ok.text == "short"
    assert bad.error == f"document has {MAX_DOCUMENT_CHARS + 1} characters; limit {MAX_DOCUMENT_CHARS} " + (
        "(split it, or tag it as --input-format text)"
    )


def test_lines_gives_one_record_per_line_empty_ones_included() -> None:
    got = list(read_lines(io.BytesIO(b"a\n\nb\r\n")))
    assert [(r.text, r.line) for r in got] == [("a", 1), ("", 2), ("b", 3)]


def test_paragraphs_keep_their_own_line_endings_so_offsets_slice_the_text_as_written() -> None:
    """Regression: CRLF lines were joined with LF, so every offset after a line break was
    one off against the paragraph as the file holds it."""
    data = b"Angela Merkel visited Paris.\r\nShe met Macron.\r\n\r\nNext one.\r\n"
    got = list(read_paragraphs(io.BytesIO(data)))
    assert [r.text for r in got] == ["Angela Merkel visited Paris.\r\nShe met Macron.", "Next one."]
    assert got[0].text == data.decode().split("\r\n\r\n")[0]
