"""Tagged corpora for training and evaluation: the ``Sentence`` type, read through the
same readers as ``tagger tag`` (``tagger.io``), so all three commands accept and refuse
the same files with the same messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tagger.errors import CorpusError, TaggerError
from tagger.io import read_records
from tagger.io.record import Record
from tagger.tags import TagScheme, is_bio_tag, looks_like_bio, validate

CorpusFormat = Literal["conll", "conllu"]
TagField = Literal["upos", "xpos"]


@dataclass
class Sentence:
    """Tokens with their gold tags."""

    tokens: list[str]
    tags: list[str]
    source: str = ""  # file the sentence came from
    lines: list[int] = field(default_factory=list)  # 1-based line of each token
    document: int = 0  # input document (-DOCSTART- / # newdoc) it belongs to

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def line(self) -> int:
        return self.lines[0] if self.lines else 0


def read_corpus(
    path: str | Path,
    fmt: CorpusFormat = "conll",
    token_column: int = 0,
    tag_column: int = -1,
    tag_field: TagField = "upos",
) -> list[Sentence]:
    """Read a whole tagged corpus; the first bad line, or a file with no sentence, is a
    ``CorpusError`` naming the file and line. ``tag_column`` may count from the end."""
    path = Path(path)
    if path.is_dir():
        raise TaggerError(f"{path}: is a directory, not a corpus file")
    if not path.exists():
        raise TaggerError(f"{path}: no such file")
    if not path.is_file():
        raise TaggerError(f"{path}: not a regular file (a corpus is read twice: give a file, not a pipe or device)")
    if fmt == "conllu":
        token_column, tag_column = 1, (3 if tag_field == "upos" else 4)
    sentences = []
    with open(path, "rb") as stream:
        for record in read_records(stream, fmt):
            if record.error is not None:
                raise CorpusError(path, record.where, record.error)
            if record.rows:  # a CoNLL-U block of comments alone holds no sentence
                sentences.append(_sentence(path, record, token_column, tag_column, fmt == "conllu", tag_field))
    if not sentences:
        raise CorpusError(path, 1, "no sentences found")
    if fmt == "conll" and all(t == "_" for s in sentences for t in s.tags):
        # The last column of a CoNLL-U file read as CoNLL: MISC, mostly "_".
        first = sentences[0]
        raise CorpusError(
            path, first.lines[0] if first.lines else 1, "every tag is '_': is this CoNLL-U (--format conllu)?"
        )
    return sentences


def _sentence(path: Path, record: Record, token_column: int, tag_column: int, conllu: bool, tag_field: str) -> Sentence:
    rows = record.rows or []
    needed = max(_width(token_column), _width(tag_column))
    if len(rows[0]) < needed:
        raise CorpusError(path, record.line, f"expected at least {needed} columns, found {len(rows[0])}")
    if not conllu and len(rows[0]) < 2:
        raise CorpusError(path, record.line, "missing tag: a token with no tag column")
    tags = [row[tag_column] for row in rows]
    if conllu and tag_field == "upos":
        missing = next((i for i, tag in enumerate(tags) if tag in ("", "_")), None)
        if missing is not None:
            raise CorpusError(
                path, record.row_lines[missing], f"missing UPOS tag for token {rows[missing][token_column]!r}"
            )
    return Sentence([row[token_column] for row in rows], tags, str(path), record.row_lines, record.document)


def _width(column: int) -> int:
    """Columns a line needs for ``column`` (which may count from the end) to exist."""
    return column + 1 if column >= 0 else -column


def check_bio_tags(sentences: Sequence[Sentence]) -> None:
    """In a corpus meant as BIO, a tag that is not (``Z-ORG``, ``B-``) is a
    ``CorpusError`` at its line: read as plain labels, it would silently turn a NER
    corpus into a POS-style one."""
    tags = {t for s in sentences for t in s.tags}
    if all(is_bio_tag(t) for t in tags) or not looks_like_bio(tags):
        return
    bad = [(s, i) for s in sentences for i, t in enumerate(s.tags) if not is_bio_tag(t)]
    sent, i = bad[0]
    more = f" ({len(bad) - 1} more in this file)" if len(bad) > 1 else ""
    raise CorpusError(
        sent.source,
        sent.lines[i] if i < len(sent.lines) else sent.line,
        f"{sent.tags[i]!r} is not a BIO tag (expected O or B-/I-/E-/S- followed by a type){more}",
    )


def check_scheme(sentences: Iterable[Sentence], scheme: TagScheme) -> list[str]:
    """Describe every ill-formed tag as ``file:line: problem`` (one line per token)."""
    messages = []
    for sent in sentences:
        for problem in validate(sent.tags, scheme):
            line = sent.lines[problem.index] if problem.index < len(sent.lines) else sent.line
            messages.append(f"{sent.source}:{line}: {problem.message}")
    return messages
