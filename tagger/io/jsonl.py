"""JSON Lines: one ``{"id": ..., "text": ...}`` object per input line; output records are
the service's document record (``tagger.document``)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import IO

from tagger.document import TaggedDocument, document_json
from tagger.io.record import Record
from tagger.io.validate import decode_lines, size_problem, text_problem


def read_jsonl(stream: IO[bytes]) -> Iterator[Record]:
    for number, line, problem in decode_lines(stream):
        if line is None:
            yield Record(number, error=problem)
        elif line.strip():
            yield parse_record(number, line)


def parse_record(number: int, line: str) -> Record:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        return Record(number, error=f"invalid JSON: {exc.msg} at column {exc.colno}")
    if not isinstance(data, dict):
        return Record(number, error="expected a JSON object with a 'text' field")
    text = data.get("text")
    if not isinstance(text, str):
        problem = "missing field 'text'" if "text" not in data else "field 'text' must be a string"
        return Record(number, error=problem)
    bad = text_problem(text) or size_problem(text)
    if bad is not None:
        return Record(number, error=f"field 'text': {bad}")
    doc_id = data.get("id")
    if doc_id is not None and (not isinstance(doc_id, (str, int)) or isinstance(doc_id, bool)):
        return Record(number, error="field 'id' must be a string or an integer")
    return Record(number, id=None if doc_id is None else str(doc_id), text=text)


class JsonlWriter:
    def __init__(self, out: IO[str], models: Sequence[str]) -> None:
        self.out = out

    def write(self, record: Record, doc: TaggedDocument) -> None:
        self.out.write(document_json(doc).decode("utf-8") + "\n")
