"""Tagging chunks of documents in worker processes, results in input order.

On CPU one process uses about one core whatever torch's thread count (an LSTM's
per-step matrices are too small for intra-op threads to pay), so ``tagger tag`` gets
its parallelism from processes: each worker tokenizes, tags and serializes a whole
chunk, and the parent only reads input and writes the finished text in order.

Workers are forked after the models are loaded, so they share the weights' pages and
start instantly; what they run is handed to each one by its initializer (inherited
through the fork, never pickled) and lives in that process only. Fork is not used with
CUDA (a CUDA context does not survive it) or where the platform lacks it; then chunks
run in the calling process.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Generic, TypeVar

from threadpoolctl import threadpool_limits

from tagger.device import set_threads, usable_cores
from tagger.errors import TaggerError
from tagger.pipeline import Tagger

Chunk = TypeVar("Chunk")
Result = TypeVar("Result")
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class _Worker:
    """What one worker process runs: set once, by the initializer, in that process."""

    task: Callable[[Any], Any] | None = None


def default_workers(device: object) -> int:
    """One worker per usable core on CPU (at most 8), none on CUDA."""
    if str(device).partition(":")[0] != "cpu" or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(8, usable_cores()))


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when its parent dies, however the parent ends; if
    the parent died before the request was made, end now."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def _init_worker(tagger: Tagger, work: Callable[[Tagger, Any], Any], threads: int, parent: int) -> None:
    # Ctrl-C reaches the whole process group: the parent alone handles it and stops us.
    # So do SIGTERM and SIGHUP sent to the group (systemd, kill -- -PGID): the parent
    # stops between chunks and the workers finish theirs; if the parent dies, so do they.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    _die_with_parent(parent)
    set_threads(threads)
    # NumPy's BLAS (OpenBLAS) would start a thread per core in every forked worker for
    # the small matrix products of the CRF and the character encoder: with two workers
    # on two cores that made tagging with both shipped models 2.4x slower.
    threadpool_limits(threads, user_api="blas")
    _Worker.task = lambda chunk: work(tagger, chunk)


def _run(chunk: object) -> object:
    if _Worker.task is None:
        raise RuntimeError("worker process was not initialised")
    return _Worker.task(chunk)


def _result(future: Future[Result]) -> Result:
    try:
        return future.result()
    except BrokenProcessPool:
        raise TaggerError(
            "a tagging worker process died (killed, or out of memory); the output holds every document before it"
        ) from None


class OrderedRunner(Generic[Chunk, Result]):
    """Runs ``work(tagger, chunk)`` for each chunk put in and hands results back in
    input order, with at most ``2 * workers`` chunks in flight (memory stays bounded
    however long the input)."""

    def __init__(
        self,
        tagger: Tagger,
        work: Callable[[Tagger, Chunk], Result],
        workers: int = 1,
        threads_per_worker: int = 1,
    ) -> None:
        self.tagger, self.work = tagger, work
        self.workers = workers if str(tagger.device).partition(":")[0] == "cpu" else 1
        self.pending: deque[Future[Result]] = deque()
        self.pool: ProcessPoolExecutor | None = None
        if self.workers > 1:
            self.pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_init_worker,
                initargs=(tagger, work, threads_per_worker, os.getpid()),
            )

    def put(self, chunk: Chunk) -> list[Result]:
        """Queue a chunk; returns the results that are due (oldest first), if any."""
        if self.pool is None:
            return [self.work(self.tagger, chunk)]
        self.pending.append(self.pool.submit(_run, chunk))  # type: ignore[arg-type]
        due = []
        while len(self.pending) > 2 * self.workers:
            due.append(_result(self.pending.popleft()))
        return due

    def drain(self) -> list[Result]:
        """Every outstanding result, in order."""
        done = []
        while self.pending:
            done.append(_result(self.pending.popleft()))
        return done

    def close(self) -> None:
        if self.pool is not None:
            for future in self.pending:
                future.cancel()
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def __enter__(self) -> OrderedRunner[Chunk, Result]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
