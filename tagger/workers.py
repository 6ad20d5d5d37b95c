"""Tagging chunks of documents in worker processes, results in input order.

On CPU one process uses about one core whatever torch's thread count (an LSTM's
per-step matrices are too small for intra-op threads to pay), so ``tagger tag`` gets
its parallelism from processes: each worker tokenizes, tags and serializes a whole
chunk, and the parent only reads input and writes the finished text in order.

Workers are forked after the models are loaded, so they share the weights' pages and
start instantly. Fork is not used with CUDA (a CUDA context does not survive it) or
where the platform lacks it; then chunks run in the calling process.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Generic, TypeVar

import torch

from tagger.predict import Predictor, usable_cores

Chunk = TypeVar("Chunk")
Result = TypeVar("Result")

# Set in the parent before the fork; each worker reads its inherited copy.
_predictor: Predictor | None = None
_work: Callable[[Predictor, object], object] | None = None


def default_workers(device: torch.device) -> int:
    """One worker per usable core on CPU (at most 8), none on CUDA."""
    if device.type != "cpu" or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(8, usable_cores()))


def _init_worker(threads: int) -> None:
    # Ctrl-C reaches the whole process group: the parent alone handles it and stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(threads)


def _run(chunk: object) -> object:
    assert _predictor is not None and _work is not None
    return _work(_predictor, chunk)


class OrderedRunner(Generic[Chunk, Result]):
    """Runs ``work(predictor, chunk)`` for each submitted chunk and hands results back
    in submission order, with at most ``2 * workers`` chunks in flight (memory stays
    bounded however long the input)."""

    def __init__(
        self,
        predictor: Predictor,
        work: Callable[[Predictor, Chunk], Result],
        workers: int = 1,
        threads_per_worker: int = 1,
    ) -> None:
        global _predictor, _work
        self.predictor, self.work = predictor, work
        self.workers = workers if predictor.device.type == "cpu" else 1
        self.pending: deque[Future[Result]] = deque()
        self.pool: ProcessPoolExecutor | None = None
        if self.workers > 1:
            _predictor, _work = predictor, work  # type: ignore[assignment]
            self.pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_init_worker,
                initargs=(threads_per_worker,),
            )

    def submit(self, chunk: Chunk) -> list[Result]:
        """Queue a chunk; returns the results that are due (oldest first), if any."""
        if self.pool is None:
            return [self.work(self.predictor, chunk)]
        self.pending.append(self.pool.submit(_run, chunk))  # type: ignore[arg-type]
        due = []
        while len(self.pending) > 2 * self.workers:
            due.append(self.pending.popleft().result())
        return due

    def drain(self) -> list[Result]:
        """Every outstanding result, in order."""
        done = []
        while self.pending:
            done.append(self.pending.popleft().result())
        return done

    def close(self) -> None:
        global _predictor, _work
        if self.pool is not None:
            for future in self.pending:
                future.cancel()
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
            _predictor = _work = None

    def __enter__(self) -> OrderedRunner[Chunk, Result]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
