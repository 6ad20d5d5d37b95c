"""Input checks shared by every reader and by the HTTP service, so that ``tagger tag``,
``tagger evaluate``, ``tagger train`` and ``POST /tag`` accept and refuse exactly the same
input, with the same words.

Decisions: bytes must be UTF-8 (checked line by line, so the error names the line and
the lines around it still read); text must be valid Unicode, so a lone surrogate (which
JSON can spell as ``"\\ud800"`` although no UTF-8 file can hold it) is refused
everywhere rather than tagged in one place and rejected in another.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

MAX_DOCUMENT_CHARS = 100_000  # one document, in tagger tag as in POST /tag (max_chars): bounds memory
MAX_SENTENCE_TOKENS = 20_000  # one CoNLL / CoNLL-U sentence, as POST /tag's max_tokens


def size_problem(text: str, limit: int = MAX_DOCUMENT_CHARS) -> str | None:
    """Why ``text`` is too long to be one document (``None`` when it is not)."""
    if len(text) > limit:
        return f"document has {len(text)} characters; limit {limit} (split it, or tag it as --input-format text)"
    return None


def utf8_problem(raw: bytes) -> str | None:
    """Why ``raw`` is not UTF-8 (``None`` when it is)."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"invalid UTF-8 byte 0x{raw[exc.start]:02x} at column {exc.start + 1}"
    return None


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be tagged (``None`` when it can): only lone surrogates."""
    try:
        text.encode("utf-8")  # the only str that cannot be encoded holds a surrogate
    except UnicodeEncodeError as exc:
        return f"lone surrogate \\u{ord(text[exc.start]):04x} at character {exc.start}"
    return None


def decode_lines(stream: IO[bytes]) -> Iterator[tuple[int, str | None, str]]:
    """``(line number, line, error)`` for every line of a byte stream; ``line`` is
    ``None`` and ``error`` says why when the line is not UTF-8. A leading BOM and the
    line ending are dropped."""
    for number, raw in enumerate(stream, start=1):
        problem = utf8_problem(raw)
        if problem is not None:
            yield number, None, problem
            continue
        line = raw.decode("utf-8")
        if number == 1:
            line = line.removeprefix("\ufeff")
        yield number, line.rstrip("\r\n"), ""
