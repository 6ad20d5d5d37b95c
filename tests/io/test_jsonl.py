"""JSONL input records and output records."""

from __future__ import annotations

import io
import json

import pytest

from tagger.document import TaggedDocument
from tagger.io.jsonl import JsonlWriter, read_jsonl


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b'{"text": \n', "invalid JSON: Expecting value at column 10"),
        (b'["a"]\n', "expected a JSON object with a 'text' field"),
        (b'{"txt": "a"}\n', "missing field 'text'"),
        (b'{"text": 3}\n', "field 'text' must be a string"),
        (b'{"text": "a\\ud800"}\n', "field 'text': lone surrogate \\ud800 at character 1"),
        (b'{"text": "a", "id": [1]}\n', "field 'id' must be a string or an integer"),
        (b'{"text": "a", "id": true}\n', "field 'id' must be a string or an integer"),  # not the id "True"
        (b"\xff\n", "invalid UTF-8 byte 0xff at column 1"),
    ],
)
def test_bad_records_say_what_is_wrong(line: bytes, error: str) -> None:
    (record,) = read_jsonl(io.BytesIO(line))
    assert record.error == error and record.where == 1


def test_ids_are_strings_and_blank_lines_are_skipped() -> None:
    got = list(read_jsonl(io.BytesIO(b'{"id": 7, "text": "a"}\n\n{"text": "b"}\n')))
    assert [(r.id, r.text, r.line) for r in got] == [("7", "a", 1), (None, "b", 3)]


def test_writer_writes_the_document_record() -> None:
    out = io.StringIO()
    JsonlWriter(out, ["m"]).write(None, TaggedDocument(id="x", sentences=[], text="hidden"))  # type: ignore[arg-type]
    assert json.loads(out.getvalue()) == {"id": "x", "sentences": [], "entities": []}
