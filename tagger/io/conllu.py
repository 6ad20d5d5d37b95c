"""CoNLL-U: ten tab-separated columns, ``#`` comment lines, a blank line after each
sentence. Multiword ranges (``3-4``) and empty nodes (``8.1``) carry no token of their
own: they are kept aside and written back where they were."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import IO

from tagger.document import TaggedDocument
from tagger.io.record import Record
from tagger.io.validate import decode_lines

COLUMNS = 10


def read_conllu(stream: IO[bytes]) -> Iterator[Record]:
    """One record per sentence; the token is FORM, the id is ``# sent_id``."""
    document = 0
    record: Record | None = None

    def finish(r: Record) -> Record:
        r.id = r.comment("sent_id")
        return r

    for number, line, problem in decode_lines(stream):
        if line is not None and not line.strip():
            if record is not None:
                yield finish(record)
                record = None
            continue
        if record is None:
            record = Record(number, tokens=[], rows=[], document=document)
        if record.error is not None:
            continue
        if line is None:
            record.fail(number, problem)
            continue
        if line.startswith("#"):
            if _key(line) == "newdoc" or _key(line).startswith("newdoc "):
                document += 1
                record.document = document
            record.comments.append(line)
            continue
        columns = line.split("\t")
        if len(columns) != COLUMNS:
            record.fail(number, f"expected {COLUMNS} tab-separated columns, found {len(columns)}")
            continue
        word_id = columns[0]
        if "-" in word_id or "." in word_id:
            record.extra.setdefault(len(record.rows or []), []).append(line)
            continue
        if not word_id.isdigit():
            record.fail(number, f"invalid word id {word_id!r}")
            continue
        record.add_token(number, columns, columns[1])
    if record is not None:
        yield finish(record)


def _one_line(text: str) -> str:
    """A comment's value on one line: line breaks and tabs as spaces."""
    return " ".join(text.split())


def _key(comment: str) -> str:
    return comment[1:].partition("=")[0].strip()


class ConlluWriter:
    """The input lines with each model's label added to MISC (``ner=B-PER|pos=PROPN``);
    raw-text input gets a ``# text`` comment, and it and CoNLL input minimal token lines."""

    def __init__(self, out: IO[str], models: Sequence[str]) -> None:
        self.out, self.models = out, list(models)

    def write(self, record: Record, doc: TaggedDocument) -> None:
        lines: list[str] = []
        for s_index, sentence in enumerate(doc.sentences):
            rows = record.rows
            if rows is not None and len(rows) != len(sentence):
                raise ValueError(f"record at line {record.line}: {len(rows)} token lines but {len(sentence)} labels")
            if s_index == 0:
                lines += [c + "\n" for c in record.comments]
            if rows is None:  # raw text: the comments UD tools expect, from the text and its offsets
                name = record.id or f"line-{record.line}"
                if s_index == 0:
                    lines.append(f"# newdoc id = {_one_line(name)}\n")
                lines.append(f"# sent_id = {_one_line(name)}-{s_index + 1}\n")
                original = doc.text[sentence[0].start : sentence[-1].end] if doc.text else ""
                lines.append(f"# text = {_one_line(original or ' '.join(t.text for t in sentence))}\n")
            for i, token in enumerate(sentence):
                lines += [e + "\n" for e in record.extra.get(i, ())]
                if rows is not None and len(rows[i]) == COLUMNS:
                    columns = list(rows[i])
                else:
                    glued = rows is None and doc.text and i + 1 < len(sentence) and sentence[i + 1].start == token.end
                    columns = [
                        str(i + 1),
                        token.text,
                        "_",
                        "_",
                        "_",
                        "_",
                        "_",
                        "_",
                        "_",
                        "SpaceAfter=No" if glued else "_",
                    ]
                # Labels of these models from an earlier run (this file tagged again) are replaced.
                ours = tuple(f"{m}=" for m in self.models)
                misc = [] if columns[9] == "_" else [f for f in columns[9].split("|") if not f.startswith(ours)]
                misc += [f"{m}={token.labels[m].label}" for m in self.models]
                columns[9] = "|".join(misc)
                lines.append("\t".join(columns) + "\n")
            lines += [e + "\n" for e in record.extra.get(len(sentence), ())]
            lines.append("\n")
        self.out.write("".join(lines))
