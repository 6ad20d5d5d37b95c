"""Read and write CoNLL column files and CoNLL-U; the ``Sentence`` type.

Readers are generators over a file so huge corpora stream; every error names the file
and line. The line of each sentence's first token is kept so later checks (tag-scheme
validation) can point at the right place.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from tagger.errors import CorpusError
from tagger.tags import TagScheme, validate

CorpusFormat = Literal["conll", "conllu"]


@dataclass
class Sentence:
    """Tokens with their gold tags (empty list when untagged)."""

    tokens: list[str]
    tags: list[str] = field(default_factory=list)
    text: str | None = None  # CoNLL-U ``# text``
    source: str = ""  # file the sentence came from
    line: int = 0  # 1-based line of the first token

    def __len__(self) -> int:
        return len(self.tokens)


def decode_lines(stream: IO[bytes]) -> Iterator[tuple[int, str | None, str]]:
    """``(line number, line, error)``: each line decoded strictly as UTF-8 on its own, so
    a bad byte is reported with its line and the lines around it still read."""
    for number, raw in enumerate(stream, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, None, f"invalid UTF-8 byte 0x{raw[exc.start]:02x} at column {exc.start + 1}"
            continue
        if number == 1:
            line = line.removeprefix("\ufeff")
        yield number, line.rstrip("\r\n"), ""


def _open_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` pairs; an undecodable line is a ``CorpusError``."""
    with open(path, "rb") as fh:
        for number, line, error in decode_lines(fh):
            if line is None:
                raise CorpusError(path, number, error)
            yield number, line


def read_conll(
    path: str | Path,
    token_column: int = 0,
    tag_column: int | None = -1,
    require_tags: bool = True,
) -> Iterator[Sentence]:
    """Read a CoNLL column file (space- or tab-separated; ``-DOCSTART-`` lines skipped).

    ``tag_column=None`` reads tokens only. Negative indices count from the end. The
    first sentence fixes the column count; a line with another count is an error.
    """
    tokens: list[str] = []
    tags: list[str] = []
    start_line = 0
    n_columns: int | None = None
    for number, line in _open_lines(path):
        if not line.strip():
            if tokens:
                yield Sentence(tokens, tags, source=str(path), line=start_line)
                tokens, tags = [], []
            continue
        columns = line.split()
        if columns[0] == "-DOCSTART-":
            continue
        if n_columns is None:
            n_columns = len(columns)
            needed = max(
                token_column if token_column >= 0 else -token_column - 1,
                0 if tag_column is None else (tag_column if tag_column >= 0 else -tag_column - 1),
            )
            if n_columns <= needed:
                raise CorpusError(path, number, f"expected at least {needed + 1} columns, found {n_columns}")
            if tag_column is not None and require_tags and n_columns < 2:
                raise CorpusError(path, number, "missing tag: a token with no tag column")
        elif len(columns) != n_columns:
            raise CorpusError(path, number, f"expected {n_columns} columns as on earlier lines, found {len(columns)}")
        if not tokens:
            start_line = number
        tokens.append(columns[token_column])
        if tag_column is not None:
            tags.append(columns[tag_column])
    if tokens:
        yield Sentence(tokens, tags, source=str(path), line=start_line)


def read_conllu(path: str | Path, tag_field: Literal["upos", "xpos"] = "upos") -> Iterator[Sentence]:
    """Read CoNLL-U: multiword ranges (``3-4``) and empty nodes (``8.1``) are skipped."""
    column = 3 if tag_field == "upos" else 4
    tokens: list[str] = []
    tags: list[str] = []
    text: str | None = None
    start_line = 0
    for number, line in _open_lines(path):
        if not line.strip():
            if tokens:
                yield Sentence(tokens, tags, text=text, source=str(path), line=start_line)
            tokens, tags, text = [], [], None
            continue
        if line.startswith("#"):
            key, _, value = line[1:].partition("=")
            if key.strip() == "text":
                text = value.strip()
            continue
        columns = line.split("\t")
        if len(columns) != 10:
            raise CorpusError(path, number, f"expected 10 tab-separated columns, found {len(columns)}")
        word_id = columns[0]
        if "-" in word_id or "." in word_id:
            continue
        if not word_id.isdigit():
            raise CorpusError(path, number, f"invalid word id {word_id!r}")
        if not tokens:
            start_line = number
        tag = columns[column]
        if tag in ("", "_") and tag_field == "upos":
            raise CorpusError(path, number, f"missing {tag_field.upper()} tag for token {columns[1]!r}")
        tokens.append(columns[1])
        tags.append(tag)
    if tokens:
        yield Sentence(tokens, tags, text=text, source=str(path), line=start_line)


def read_corpus(
    path: str | Path,
    fmt: CorpusFormat = "conll",
    token_column: int = 0,
    tag_column: int = -1,
    tag_field: Literal["upos", "xpos"] = "upos",
) -> list[Sentence]:
    """Read a whole tagged corpus; a file with no sentence is an error."""
    if not Path(path).is_file():
        raise CorpusError(path, 0, "no such file")
    if fmt == "conllu":
        sentences = list(read_conllu(path, tag_field))
    else:
        sentences = list(read_conll(path, token_column, tag_column))
    if not sentences:
        raise CorpusError(path, 1, "no sentences found")
    return sentences


def check_scheme(sentences: Iterable[Sentence], scheme: TagScheme) -> list[str]:
    """Describe every ill-formed tag as ``file:line: problem`` (one line per token)."""
    messages = []
    for sent in sentences:
        for problem in validate(sent.tags, scheme):
            messages.append(f"{sent.source}:{sent.line + problem.index}: {problem.message}")
    return messages


def write_conll(
    sentences: Iterable[Sentence], out: IO[str], extra_columns: Sequence[Sequence[Sequence[str]]] = ()
) -> None:
    """Write ``token [gold] [extra...]`` lines, one blank line after each sentence.

    ``extra_columns[k][i]`` is the k-th extra column (e.g. one model's predictions)
    for sentence ``i``; the result reads back with ``read_conll`` and conlleval.
    """
    for i, sent in enumerate(sentences):
        for j, token in enumerate(sent.tokens):
            columns = [token]
            if sent.tags:
                columns.append(sent.tags[j])
            columns.extend(col[i][j] for col in extra_columns)
            out.write(" ".join(columns) + "\n")
        out.write("\n")


def write_conllu(sentences: Iterable[Sentence], out: IO[str]) -> None:
    """Write minimal CoNLL-U: id, form and UPOS filled, other columns ``_``."""
    for sent in sentences:
        if sent.text is not None:
            out.write(f"# text = {sent.text}\n")
        for j, token in enumerate(sent.tokens):
            tag = sent.tags[j] if sent.tags else "_"
            out.write("\t".join([str(j + 1), token, "_", tag, "_", "_", "_", "_", "_", "_"]) + "\n")
        out.write("\n")


def to_string(sentences: Iterable[Sentence], fmt: CorpusFormat = "conll") -> str:
    buf = io.StringIO()
    (write_conllu if fmt == "conllu" else write_conll)(sentences, buf)
    return buf.getvalue()
