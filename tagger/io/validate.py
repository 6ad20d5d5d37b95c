"""Input checks shared by every reader and by the HTTP service, so that ``tagger tag``,
``tagger evaluate``, ``tagger train`` and ``POST /tag`` accept and refuse exactly the same
input, with the same words.

Decisions: bytes must be UTF-8 (checked line by line, so the error names the line and
the lines around it still read); text must be valid Unicode, so a lone surrogate (which
JSON can spell as ``"\\ud800"`` although no UTF-8 file can hold it) is refused
everywhere rather than tagged in one place and rejected in another. A pre-tokenized
token must not be empty, must not begin or end with the whitespace, zero-width
separators or control characters the tokenizer drops (a token ``" "`` or ``" Paris"``
would otherwise be tagged, and its entity span whitespace), and must hold no control
character or line break anywhere. Inside a token, spaces are the user's tokenization:
CoNLL-U forms may hold them (``10 000``, ``New York``), and so may CoNLL tokens with a
no-break space.
``input_problem`` applies these rules to a batch of documents, for ``POST /tag`` and
``Tagger.tag`` alike, naming the place as the service's fields do.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import IO

from tagger.tokenize import CONTROL_CLASS, SEPARATOR_CLASS  # what the tokenizer drops

MAX_DOCUMENT_CHARS = 100_000  # one document, in tagger tag as in POST /tag (max_chars): bounds memory
MAX_SENTENCE_TOKENS = 20_000  # one CoNLL / CoNLL-U sentence, as POST /tag's max_tokens
_EDGE_CLASS = f"{SEPARATOR_CLASS}{CONTROL_CLASS}"  # whitespace, zero-width separators, control characters
_NEVER_CLASS = f"{CONTROL_CLASS}\n\r\v\f\x1c-\x1e\u2028\u2029"  # control characters and line breaks
NOT_AT_TOKEN_EDGE = re.compile(f"[{_EDGE_CLASS}]")
NEVER_IN_TOKEN = re.compile(f"[{_NEVER_CLASS}]")
ONLY_NOT_AT_TOKEN_EDGE = re.compile(f"[{_EDGE_CLASS}]+")


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


def token_problem(token: str) -> str | None:
    """Why ``token`` cannot be one pre-tokenized token (``None`` when it can): empty,
    only whitespace or control characters, whitespace at either end, a control
    character or line break anywhere, or a lone surrogate. The message names the
    character by its code point and position, never the token itself."""
    if not token:
        return "empty token"
    if ONLY_NOT_AT_TOKEN_EDGE.fullmatch(token):
        return "token holds only whitespace or control characters"
    found = NEVER_IN_TOKEN.search(token)
    if found is not None:
        return f"control character or line break \\u{ord(found.group()):04x} at character {found.start()}"
    for end, char in (("start", token[0]), ("end", token[-1])):
        if NOT_AT_TOKEN_EDGE.match(char):
            return f"whitespace \\u{ord(char):04x} at the {end} of the token"
    return text_problem(token)


def _class_of(pattern: re.Pattern[str]) -> str:
    """The BMP code points ``pattern`` matches as ``\\uXXXX`` class ranges (every such
    character is in the BMP), so JSON Schema's ECMA-262 dialect reads them as Python does."""
    refused = [cp for cp in range(0x10000) if pattern.match(chr(cp))]
    runs: list[list[int]] = []  # [first, last] of each run of consecutive code points
    for cp in refused:
        if runs and cp == runs[-1][1] + 1:
            runs[-1][1] = cp
        else:
            runs.append([cp, cp])
    return "".join(f"\\u{lo:04x}" if lo == hi else f"\\u{lo:04x}-\\u{hi:04x}" for lo, hi in runs)


def token_pattern() -> str:
    """What ``token_problem`` accepts, save lone surrogates, as a JSON Schema pattern for
    the OpenAPI document."""
    edge, never = _class_of(NOT_AT_TOKEN_EDGE), _class_of(NEVER_IN_TOKEN)
    return f"^[^{edge}](?:[^{never}]*[^{edge}])?$"


def input_problem(documents: Sequence[str | Sequence[str]], single: bool = False) -> str | None:
    """Why a batch of documents cannot be tagged (``None`` when it can), naming the first
    bad place as ``POST /tag`` names its fields: ``field 'texts[1]'`` for a text (``field
    'text'`` when ``single``), ``field 'tokens[0][2]'`` for a token. Text may hold
    anything but a lone surrogate (the tokenizer drops whitespace and control characters);
    a token is checked by ``token_problem``."""
    for i, document in enumerate(documents):
        if isinstance(document, str):
            problem = text_problem(document)
            if problem is not None:
                field = "text" if single else f"texts[{i}]"
                return f"field '{field}': {problem}"
            continue
        for j, token in enumerate(document):
            problem = token_problem(token)
            if problem is not None:
                return f"field 'tokens[{i}][{j}]': {problem}"
    return None


def decode_lines(stream: IO[bytes], keep_ends: bool = False) -> Iterator[tuple[int, str | None, str]]:
    """``(line number, line, error)`` for every line of a byte stream; ``line`` is
    ``None`` and ``error`` says why when the line is not UTF-8. A leading BOM is
    dropped, and the line ending unless ``keep_ends``."""
    for number, raw in enumerate(stream, start=1):
        problem = utf8_problem(raw)
        if problem is not None:
            yield number, None, problem
            continue
        line = raw.decode("utf-8")
        if number == 1:
            line = line.removeprefix("\ufeff")
        yield number, line if keep_ends else line.rstrip("\r\n"), ""
