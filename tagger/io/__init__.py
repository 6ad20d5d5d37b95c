"""Every file format behind one reader and one writer each, shared by ``tagger train``,
``tagger evaluate`` and ``tagger tag`` (validation lives in ``validate``, also used by
the HTTP service)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import IO, Literal, Protocol

from tagger.document import TaggedDocument
from tagger.io.conll import ConllWriter, read_conll
from tagger.io.conllu import ConlluWriter, read_conllu
from tagger.io.jsonl import JsonlWriter, read_jsonl
from tagger.io.record import Record
from tagger.io.text import read_lines, read_paragraphs

InputFormat = Literal["text", "lines", "jsonl", "conll", "conllu"]
OutputFormat = Literal["jsonl", "conll", "conllu"]
INPUT_FORMATS: tuple[InputFormat, ...] = ("text", "lines", "jsonl", "conll", "conllu")
OUTPUT_FORMATS: tuple[OutputFormat, ...] = ("jsonl", "conll", "conllu")

READERS: dict[InputFormat, Callable[[IO[bytes]], Iterator[Record]]] = {
    "text": read_paragraphs,
    "lines": read_lines,
    "jsonl": read_jsonl,
    "conll": read_conll,
    "conllu": read_conllu,
}


class Writer(Protocol):
    def write(self, record: Record, doc: TaggedDocument) -> None: ...


WRITERS: dict[OutputFormat, Callable[[IO[str], Sequence[str]], Writer]] = {
    "jsonl": JsonlWriter,
    "conll": ConllWriter,
    "conllu": ConlluWriter,
}


def read_records(stream: IO[bytes], fmt: InputFormat) -> Iterator[Record]:
    """Records of the input; a bad one comes with ``error`` set (the caller decides)."""
    return READERS[fmt](stream)


def make_writer(out: IO[str], fmt: OutputFormat, models: Sequence[str]) -> Writer:
    return WRITERS[fmt](out, models)


def format_from_name(path: str) -> InputFormat:
    """The input format a file name suggests (``.jsonl``, ``.conllu``, ``.conll``), else text."""
    suffixes: dict[str, InputFormat] = {".jsonl": "jsonl", ".conllu": "conllu", ".conll": "conll"}
    return next((fmt for suffix, fmt in suffixes.items() if path.endswith(suffix)), "text")


__all__ = [
    "INPUT_FORMATS",
    "OUTPUT_FORMATS",
    "InputFormat",
    "OutputFormat",
    "Record",
    "Writer",
    "format_from_name",
    "make_writer",
    "read_records",
]
