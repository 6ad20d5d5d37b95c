"""Plain text: documents separated by blank lines (``text``) or one document per line
(``lines``). Input only: tagged text is written as JSONL, CoNLL or CoNLL-U."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from tagger.io.record import Record
from tagger.io.validate import decode_lines

MAX_DOCUMENT_CHARS = 1_000_000  # a longer stretch without a blank line is cut into documents


def read_lines(stream: IO[bytes]) -> Iterator[Record]:
    for number, line, problem in decode_lines(stream):
        yield Record(number, text=line, error=problem or None)


def read_paragraphs(stream: IO[bytes]) -> Iterator[Record]:
    """Documents separated by blank lines; inner newlines are kept."""
    lines: list[str] = []
    start = size = 0
    for number, line, problem in decode_lines(stream):
        if line is None:
            if lines:
                yield Record(start, text="\n".join(lines))
                lines, size = [], 0
            yield Record(number, error=problem)
            continue
        if line.strip():
            if not lines:
                start = number
            lines.append(line)
            size += len(line) + 1
            if size > MAX_DOCUMENT_CHARS:  # keep memory flat on text with no blank lines
                yield Record(start, text="\n".join(lines))
                lines, size = [], 0
        elif lines:
            yield Record(start, text="\n".join(lines))
            lines, size = [], 0
    if lines:
        yield Record(start, text="\n".join(lines))
