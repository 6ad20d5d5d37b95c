"""CoNLL column files: one token per line, columns separated by spaces or tabs, a blank
line after each sentence, ``-DOCSTART-`` lines between documents.

One rule for every caller: the first token line fixes the number of columns for the
whole file, and a line with another count is an error naming the line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import IO

from tagger.document import TaggedDocument
from tagger.io.record import Record
from tagger.io.validate import decode_lines

# Columns are separated by spaces and tabs only: a token may hold a no-break or thin space
# ("10\u00a0000", as French and Czech corpora write numbers), which str.split would cut.
_SEPARATORS = " \t"
_COLUMNS = re.compile(f"[{_SEPARATORS}]+")


def read_conll(stream: IO[bytes]) -> Iterator[Record]:
    """One record per sentence; the token is the first column."""
    columns_per_line: int | None = None
    document = 0
    record: Record | None = None
    docstart: str | None = None  # the -DOCSTART- line the next sentence follows
    for number, line, problem in decode_lines(stream):
        if line is not None and not line.strip():
            if record is not None:
                yield record
                record = None
            continue
        if line is not None and line.split(maxsplit=1)[0] == "-DOCSTART-":
            if record is not None:
                yield record
                record = None
            document += 1
            docstart = line.strip()
            continue
        if record is None:
            record = Record(number, tokens=[], rows=[], document=document, docstart=docstart)
            docstart = None
        if record.error is not None:
            continue  # the rest of a bad sentence adds nothing
        if line is None:
            record.fail(number, problem)
            continue
        columns = _COLUMNS.split(line.strip(_SEPARATORS))
        if columns_per_line is None:
            columns_per_line = len(columns)
        elif len(columns) != columns_per_line:
            record.fail(number, f"expected {columns_per_line} columns as on earlier lines, found {len(columns)}")
            continue
        record.add_token(number, columns, columns[0])
    if record is not None:
        yield record


# A token may hold spaces (a CoNLL-U form "10 000"); written as no-break spaces, it stays
# one column that ``read_conll`` reads back whole.
_IN_COLUMN = str.maketrans({" ": "\u00a0", "\t": "\u00a0"})


class ConllWriter:
    """The input columns of each token (or the token alone for raw-text input), then one
    predicted column per model; a blank line after each sentence."""

    def __init__(self, out: IO[str], models: Sequence[str]) -> None:
        self.out, self.models = out, list(models)

    def write(self, record: Record, doc: TaggedDocument) -> None:
        lines = []
        if record.docstart is not None:  # the document boundary, so the output reads as the input did
            lines.append(" ".join([*_COLUMNS.split(record.docstart), *("O" for _ in self.models)]) + "\n\n")
        for sentence in doc.sentences:
            rows = record.rows
            if rows is not None and len(rows) != len(sentence):
                raise ValueError(f"record at line {record.line}: {len(rows)} token lines but {len(sentence)} labels")
            for i, token in enumerate(sentence):
                base = rows[i] if rows is not None else [token.text]
                columns = [c.translate(_IN_COLUMN) for c in base]
                lines.append(" ".join([*columns, *(token.labels[m].label for m in self.models)]) + "\n")
            lines.append("\n")
        self.out.write("".join(lines))
