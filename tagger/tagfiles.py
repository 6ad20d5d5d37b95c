"""``tagger tag``: stream records from a file through the ``Tagger`` into a writer.

Input is read record by record (``tagger.io``) and tagged in chunks of about
``chunk_chars`` characters, in worker processes on CPU, so memory stays flat however
large the file. Output is flushed after each chunk; when a bad record stops the run,
every document before it is tagged and written first, so the output is complete up to
the last whole document.
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO

from tqdm import tqdm

from tagger.errors import CorpusError, TaggerError
from tagger.io import InputFormat, OutputFormat, Record, make_writer, read_records
from tagger.pipeline import PreparedDocument, Tagger, prepare
from tagger.workers import OrderedRunner

CHUNK_CHARS = 25_000


@dataclass
class TagStats:
    documents: int = 0
    tokens: int = 0
    skipped: int = 0
    seconds: float = 0.0
    stopped: bool = False  # should_stop ended the run before the input did


@dataclass(frozen=True)
class Chunk:
    records: list[Record]
    output_format: OutputFormat


def prepare_record(record: Record) -> PreparedDocument:
    return prepare(record.tokens if record.tokens is not None else record.text or "", record.id)


def tag_chunk(tagger: Tagger, chunk: Chunk) -> tuple[str, int, int]:
    """Tokenize, tag and serialize one chunk: (output text, documents, tokens).

    Runs in a worker process when there are several, so all per-document work is here.
    Consecutive records of one input document (CoNLL sentences between ``-DOCSTART-``
    lines) are tagged as one document, so models with document context see them all.
    """
    groups: list[int] = []
    previous: Record | None = None
    for record in chunk.records:
        same = previous is not None and record.tokens is not None and previous.document == record.document
        groups.append(groups[-1] if same else len(groups))
        previous = record if record.tokens is not None else None
    prepared = [prepare_record(r) for r in chunk.records]
    tagged = tagger.tag_prepared(prepared, context_groups=groups)
    buffer = io.StringIO()
    writer = make_writer(buffer, chunk.output_format, list(tagger.models))
    for record, doc in zip(chunk.records, tagged, strict=True):
        writer.write(record, doc)
    return buffer.getvalue(), len(chunk.records), sum(p.num_tokens for p in prepared)


def tag_stream(
    tagger: Tagger,
    source: IO[bytes],
    out: IO[str],
    source_name: str,
    input_format: InputFormat = "text",
    output_format: OutputFormat = "jsonl",
    skip_errors: bool = False,
    chunk_chars: int = CHUNK_CHARS,
    workers: int = 1,
    worker_threads: int = 1,
    progress: bool = False,
    log: IO[str] = sys.stderr,
    should_stop: Callable[[], bool] = lambda: False,
    output_name: str = "<output>",
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

    def write(results: Sequence[tuple[str, int, int]]) -> None:
        for text, documents, tokens in results:
            try:
                out.write(text)
                out.flush()
            except OSError as exc:  # a full disk, a closed pipe: what was flushed before stays
                raise TaggerError(f"{output_name}: cannot write: {exc.strerror}") from None
            stats.documents += documents
            stats.tokens += tokens
            bar.update(documents)
        if results:
            elapsed = time.perf_counter() - started
            bar.set_postfix(tokens_per_s=f"{stats.tokens / max(elapsed, 1e-9):,.0f}")

    def send() -> None:
        nonlocal pending, pending_chars
        if pending:
            write(runner.put(Chunk(pending, output_format)))
        pending, pending_chars = [], 0

    try:
        with OrderedRunner(tagger, tag_chunk, workers, worker_threads) as runner:
            for record in read_records(source, input_format):
                if should_stop():  # checked between records: chunks in flight are still written
                    stats.stopped = True
                    break
                if record.error is not None:
                    error = CorpusError(source_name, record.where, record.error)
                    if not skip_errors:
                        send()
                        write(runner.drain())
                        raise error
                    stats.skipped += 1
                    print(f"skipped {error}", file=log)
                    continue
                if record.tokens is not None and not record.tokens:
                    continue  # a CoNLL-U block of comments alone: nothing to tag
                # A chunk ends between input documents where it can, so that the
                # sentences of one document are tagged together.
                if pending_chars >= chunk_chars and (
                    record.tokens is None or record.document != pending[-1].document or pending_chars >= 8 * chunk_chars
                ):
                    send()
                pending.append(record)
                pending_chars += record.size
            if not stats.stopped:
                send()
            write(runner.drain())
    finally:
        bar.close()
        stats.seconds = time.perf_counter() - started
    return stats
