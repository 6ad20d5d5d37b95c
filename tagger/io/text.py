"""Plain text: documents separated by blank lines (``text``) or one document per line
(``lines``). Input only: tagged text is written as JSONL, CoNLL or CoNLL-U."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from tagger.io.record import Record
from tagger.io.validate import MAX_DOCUMENT_CHARS, decode_lines, size_problem


def read_lines(stream: IO[bytes]) -> Iterator[Record]:
    """One document per line; a line longer than a document may be is a bad record."""
    for number, line, problem in decode_lines(stream):
        if line is not None and not problem:
            problem = size_problem(line) or ""
        yield Record(number, text=line if not problem else None, error=problem or None)


def _cut(line: str, limit: int) -> Iterator[str]:
    """A line longer than ``limit`` in pieces of at most ``limit`` characters, cut at the
    last whitespace before the limit where there is one."""
    while len(line) > limit:
        cut = max(line.rfind(" ", 0, limit), line.rfind("\t", 0, limit))
        cut = cut + 1 if cut > 0 else limit
        yield line[:cut]
        line = line[cut:]
    yield line


def _joined(lines: list[str]) -> str:
    """The lines of a document as the file holds them, without its last line ending."""
    text = "".join(lines)
    return text.removesuffix("\n").removesuffix("\r") if text.endswith("\n") else text


def read_paragraphs(stream: IO[bytes], limit: int = MAX_DOCUMENT_CHARS) -> Iterator[Record]:
    """Documents separated by blank lines; inner line breaks are kept as the file has
    them (CRLF included), so offsets slice the paragraph as written. A stretch longer
    than ``limit`` characters without a blank line (a long line included) is cut into
    documents of at most ``limit``, so memory stays flat whatever the layout."""
    lines: list[str] = []
    start = size = 0
    for number, line, problem in decode_lines(stream, keep_ends=True):
        if line is None:
            if lines:
                yield Record(start, text=_joined(lines))
                lines, size = [], 0
            yield Record(number, error=problem)
            continue
        if not line.strip():
            if lines:
                yield Record(start, text=_joined(lines))
                lines, size = [], 0
            continue
        for part in _cut(line, limit):
            if lines and size + len(part.rstrip("\r\n")) > limit:
                yield Record(start, text=_joined(lines))
                lines, size = [], 0
            if not lines:
                start = number
            lines.append(part)
            size += len(part)
    if lines:
        yield Record(start, text=_joined(lines))
