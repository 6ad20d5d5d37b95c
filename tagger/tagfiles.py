"""``tagger tag``: stream documents from a file through the Predictor into JSONL or CoNLL.

Input is read record by record and tagged in chunks of about ``chunk_chars``
characters, in worker processes on CPU, so memory stays flat however large the file.
Output is flushed after each chunk; when a bad record stops the run, every document
before it is tagged and written first, so the output is complete up to the last whole
document.
"""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Literal

from tqdm import tqdm

from tagger.corpus import decode_lines
from tagger.documents import TaggedDocument
from tagger.errors import CorpusError
from tagger.predict import Predictor
from tagger.schema import document_dict
from tagger.workers import OrderedRunner

InputFormat = Literal["text", "lines", "jsonl", "conll", "conllu"]
OutputFormat = Literal["jsonl", "conll", "conllu"]
MAX_DOCUMENT_CHARS = 1_000_000  # a longer blank-line-free stretch of text is cut into documents


@dataclass
class Record:
    """One input document: raw text, or one pre-tokenized sentence (CoNLL input)."""

    line: int  # 1-based line where the record starts
    id: str | None = None
    text: str | None = None
    tokens: list[str] | None = None
    columns: list[list[str]] | None = None  # CoNLL: the original columns of every token line
    comments: list[str] | None = None  # CoNLL-U comment lines, written back unchanged
    error: str | None = None  # set for a bad record


@dataclass
class TagStats:
    documents: int = 0
    tokens: int = 0
    skipped: int = 0
    seconds: float = 0.0


def read_records(stream: IO[bytes], fmt: InputFormat) -> Iterator[Record]:
    """Records of the input; a bad one comes with ``error`` set (the caller decides)."""
    if fmt == "lines":
        for number, line, err in decode_lines(stream):
            yield Record(number, text=line, error=err or None)
    elif fmt == "jsonl":
        for number, line, err in decode_lines(stream):
            if err or line is None:
                yield Record(number, error=err)
            elif line.strip():
                yield _json_record(number, line)
    elif fmt == "text":
        yield from _paragraphs(stream)
    else:
        yield from _conll_sentences(stream, fmt)


def _json_record(number: int, line: str) -> Record:
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
    surrogate = next((i for i, ch in enumerate(text) if "\ud800" <= ch <= "\udfff"), None)
    if surrogate is not None:
        return Record(
            number, error=f"field 'text' has a lone surrogate (\\u{ord(text[surrogate]):04x}) at character {surrogate}"
        )
    doc_id = data.get("id")
    if doc_id is not None and not isinstance(doc_id, (str, int)):
        return Record(number, error="field 'id' must be a string or an integer")
    return Record(number, id=None if doc_id is None else str(doc_id), text=text)


def _paragraphs(stream: IO[bytes]) -> Iterator[Record]:
    """Documents separated by blank lines; inner newlines are kept."""
    lines: list[str] = []
    start = size = 0
    for number, line, err in decode_lines(stream):
        if err or line is None:
            if lines:
                yield Record(start, text="\n".join(lines))
                lines, size = [], 0
            yield Record(number, error=err)
            continue
        if line.strip():
            if not lines:
                start = number
            lines.append(line)
            size += len(line) + 1
            if size > MAX_DOCUMENT_CHARS:  # keep memory flat on text with no blank lines
                yield Record(start, text="\n".join(lines))
                lines, size = [], 0
        elif lines:
            yield Record(start, text="\n".join(lines))
            lines, size = [], 0
    if lines:
        yield Record(start, text="\n".join(lines))


def _conll_sentences(stream: IO[bytes], fmt: InputFormat) -> Iterator[Record]:
    """Pre-tokenized sentences; the token is column 1 (CoNLL) or FORM (CoNLL-U)."""
    rows: list[list[str]] = []
    comments: list[str] = []
    start = 0
    bad: str | None = None

    def flush() -> Record:
        nonlocal rows, comments, bad
        tokens = [r[1] if fmt == "conllu" else r[0] for r in rows]
        sent_id = next((c.partition("=")[2].strip() for c in comments if c[1:].strip().startswith("sent_id")), None)
        record = Record(start, tokens=tokens, columns=rows, error=bad, id=sent_id, comments=comments)
        rows, comments, bad = [], [], None
        return record

    for number, line, err in decode_lines(stream):
        if line is not None and not line.strip():
            if rows or bad:
                yield flush()
            comments = []
            continue
        if not rows and not bad:
            start = number
        if err or line is None:
            bad = bad or f"line {number}: {err}"
            continue
        if fmt == "conll" and line.startswith("-DOCSTART-"):
            continue
        if fmt == "conllu":
            if line.startswith("#"):
                comments.append(line)
                continue
            columns = line.split("\t")
            if len(columns) != 10:
                bad = bad or f"line {number}: expected 10 tab-separated columns, found {len(columns)}"
                continue
            if "-" in columns[0] or "." in columns[0]:
                continue  # multiword ranges and empty nodes carry no token of their own
        else:
            columns = line.split()
        rows.append(columns)
    if rows or bad:
        yield flush()


class Writer:
    """Writes tagged documents in one output format."""

    def __init__(self, out: IO[str], fmt: OutputFormat, models: Sequence[str]) -> None:
        self.out, self.fmt, self.models = out, fmt, list(models)

    def write(self, record: Record, doc: TaggedDocument) -> None:
        if self.fmt == "jsonl":
            self.out.write(json.dumps(document_dict(doc, record.id), ensure_ascii=False) + "\n")
            return
        for s_index, sentence in enumerate(doc.sentences):
            if self.fmt == "conllu":
                if record.comments and s_index == 0:
                    self.out.write("".join(c + "\n" for c in record.comments))
                if record.text is not None:
                    self.out.write(f"# text = {' '.join(t.text for t in sentence)}\n")
            for i, token in enumerate(sentence):
                predicted = [token.labels[m].label for m in self.models]
                if self.fmt == "conll":
                    base = record.columns[i] if record.columns is not None else [token.text]
                    self.out.write(" ".join([*base, *predicted]) + "\n")
                else:
                    self.out.write(self._conllu_line(record, i, token.text, predicted) + "\n")
            self.out.write("\n")

    def _conllu_line(self, record: Record, i: int, form: str, predicted: list[str]) -> str:
        if record.columns is not None and len(record.columns[i]) == 10:
            columns = list(record.columns[i])
        else:
            columns = [str(i + 1), form, "_", "_", "_", "_", "_", "_", "_", "_"]
        misc = [] if columns[9] == "_" else [columns[9]]
        misc += [f"{m}={label}" for m, label in zip(self.models, predicted, strict=True)]
        columns[9] = "|".join(misc)
        return "\t".join(columns)


def tag_records(predictor: Predictor, chunk: tuple[list[Record], OutputFormat]) -> tuple[str, int, int]:
    """Tokenize, tag and serialize one chunk: (output text, documents, tokens).

    Runs in a worker process when there are several, so all per-document work is here.
    """
    records, output_format = chunk
    prepared = [predictor.prepare(r.tokens if r.tokens is not None else r.text or "") for r in records]
    tagged = predictor.tag_prepared(prepared)
    buffer = io.StringIO()
    writer = Writer(buffer, output_format, list(predictor.models))
    for record, doc in zip(records, tagged, strict=True):
        writer.write(record, doc)
    return buffer.getvalue(), len(records), sum(p.num_tokens for p in prepared)


def tag_stream(
    predictor: Predictor,
    source: IO[bytes],
    out: IO[str],
    source_name: str,
    input_format: InputFormat = "text",
    output_format: OutputFormat = "jsonl",
    skip_errors: bool = False,
    chunk_chars: int = 25_000,
    workers: int = 1,
    worker_threads: int = 1,
    progress: bool = False,
    log: IO[str] = sys.stderr,
) -> TagStats:
    """Tag every record of ``source``; raise ``CorpusError`` on the first bad record
    unless ``skip_errors`` (then report it on ``log`` and go on).

    Records are grouped into chunks of about ``chunk_chars`` characters, tagged by
    ``workers`` processes, and written back in input order, one write per chunk: a
    kill cannot leave half a record, and a bad record stops the run only after
    everything before it is written.
    """
    stats = TagStats()
    started = time.perf_counter()
    bar = tqdm(disable=not progress, unit="doc", file=sys.stderr, dynamic_ncols=True)
    pending: list[Record] = []
    pending_chars = 0

    def write(results: list[tuple[str, int, int]]) -> None:
        for text, documents, tokens in results:
            out.write(text)
            out.flush()
            stats.documents += documents
            stats.tokens += tokens
            bar.update(documents)
        if results:
            elapsed = time.perf_counter() - started
            bar.set_postfix(tokens_per_s=f"{stats.tokens / max(elapsed, 1e-9):,.0f}")

    def submit() -> None:
        nonlocal pending, pending_chars
        if pending:
            write(runner.submit((pending, output_format)))
        pending, pending_chars = [], 0

    try:
        with OrderedRunner(predictor, tag_records, workers, worker_threads) as runner:
            for record in read_records(source, input_format):
                if record.error is not None:
                    error = CorpusError(source_name, record.line, record.error)
                    if not skip_errors:
                        submit()
                        write(runner.drain())
                        raise error
                    stats.skipped += 1
                    print(f"skipped {error}", file=log)
                    continue
                pending.append(record)
                pending_chars += len(record.text) if record.text is not None else sum(map(len, record.tokens or []))
                if pending_chars >= chunk_chars:
                    submit()
            submit()
            write(runner.drain())
    finally:
        bar.close()
        stats.seconds = time.perf_counter() - started
    return stats
