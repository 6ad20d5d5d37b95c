"""The format registry: readers, writers and names."""

from __future__ import annotations

import io

from tagger.io import INPUT_FORMATS, OUTPUT_FORMATS, READERS, WRITERS, format_from_name, make_writer, read_records


def test_every_format_has_a_reader_or_writer() -> None:
    assert set(READERS) == set(INPUT_FORMATS) and set(WRITERS) == set(OUTPUT_FORMATS)
    for fmt in OUTPUT_FORMATS:
        assert hasattr(make_writer(io.StringIO(), fmt, ["m"]), "write")


def test_format_from_name() -> None:
    assert [format_from_name(n) for n in ("a.jsonl", "b.conllu", "c.conll", "d.txt", "-")] == [
        "jsonl",
        "conllu",
        "conll",
        "text",
        "text",
    ]


def test_read_records_dispatches_on_the_format() -> None:
    (record,) = read_records(io.BytesIO(b'{"text": "x"}\n'), "jsonl")
    assert record.text == "x"
