"""Request merging: concurrent requests share one call of the tagger on one inference
thread (the tagger then cuts the call into padded forward passes of its own budget).

Requests wait in a bounded queue. A single worker thread (off the event loop, so the
server keeps accepting connections) takes the oldest request and every queued request
for the same models up to ``max_merged_tokens``, and runs them as one call of
``Tagger.tag_prepared``. A full queue refuses new work at once (``Overloaded``)
instead of growing forever.

Clients that keep a steady number of requests in flight (N workers of a pipeline, each
sending its next request when the last is answered) split, left alone, into groups
that take turns: each request waits for another group's pass before its own, and a
small pass costs almost as much as a full one. So when the merger's fullest moment
held the same N requests (N at least 4) in each of the last two windows of half a
second, the worker gathers: it holds the pass until all N are here, or none has
arrived for ``gap`` (counted from the end of the last pass at the earliest, as answers
must go out before clients come back), or ``max_wait`` has passed. Requests arriving
independently of the answers vary the peak, and are not held: waiting for them only
adds the wait to every request.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from tagger.document import TaggedDocument
from tagger.pipeline import PreparedDocument

# Below this, a shared pass saves little, and independent arrivals at a low rate often
# show the same small peak twice in a row.
MIN_STEADY_CLIENTS = 4

RunFn = Callable[[Sequence[PreparedDocument], Sequence[str] | None], list[TaggedDocument]]


class Overloaded(Exception):
    """The queue is full; the caller should answer 503 with Retry-After."""


@dataclass
class _Job:
    documents: list[PreparedDocument]
    models: tuple[str, ...] | None
    tokens: int
    future: Future[list[TaggedDocument]] = field(default_factory=Future)


class RequestMerger:
    def __init__(
        self,
        run: RunFn,
        max_merged_tokens: int,
        max_wait_s: float,
        max_queue: int,
        merging: bool = True,
        gap_s: float = 0.006,
        peak_window_s: float = 0.5,
        on_pass: Callable[[int, int], None] | None = None,
    ) -> None:
        self._run = run
        self._max_tokens = max_merged_tokens
        self._max_wait = max_wait_s
        self._gap = gap_s
        self._peak_window = peak_window_s
        self._last_arrival = 0.0
        self._last_pass_end = 0.0
        self._held = 0  # jobs taken for the pass being gathered or run
        # Most requests in the merger at once, per window of ``peak_window_s``: the
        # current window's and the last two complete ones'.
        self._peak = 0
        self._window_peaks: deque[int] = deque(maxlen=2)
        self._window_start = 0.0
        self._max_queue = max_queue
        self._merging = merging
        self._on_pass = on_pass or (lambda jobs, tokens: None)
        self._pending: deque[_Job] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="inference", daemon=True)
        self._thread.start()

    @property
    def depth(self) -> int:
        return len(self._pending)

    async def tag(self, documents: list[PreparedDocument], models: Sequence[str] | None) -> list[TaggedDocument]:
        """Queue the documents and wait for their tagged form; ``Overloaded`` at once if the queue is full."""
        job = _Job(documents, tuple(models) if models is not None else None, sum(d.num_tokens for d in documents))
        with self._cond:
            if self._stopping:
                raise Overloaded("server is shutting down")
            self._drop_cancelled()
            if len(self._pending) >= self._max_queue:
                raise Overloaded(f"{len(self._pending)} requests already queued")
            self._pending.append(job)
            now = self._last_arrival = time.monotonic()
            if now - self._window_start > self._peak_window:
                self._window_peaks.append(self._peak)
                if now - self._window_start > 2 * self._peak_window:
                    self._window_peaks.append(0)  # a whole window went by without a request
                self._peak, self._window_start = 0, now
            self._peak = max(self._peak, len(self._pending) + self._held)
            self._cond.notify()
        return await asyncio.wrap_future(job.future)

    def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout=10)

    def _take(self) -> list[_Job] | None:
        with self._cond:
            while True:
                self._drop_cancelled()
                if self._pending or self._stopping:
                    break
                self._cond.wait()
            if self._stopping:
                return None
            first = self._pending.popleft()
            jobs, tokens = [first], first.tokens
            if not self._merging:
                return jobs
            tokens = self._gather(jobs, tokens)
            self._held = len(jobs)
            clients = self._steady_clients()
            if clients > len(jobs) and self._max_wait > 0:
                deadline = time.monotonic() + self._max_wait
                # Stop once every client is here: nobody else is coming.
                while tokens < self._max_tokens and len(jobs) < clients and not self._stopping:
                    now = time.monotonic()
                    # A pass that just ended is about to send responses, and its clients
                    # their next requests: quiet is counted from then at the earliest.
                    quiet_for = now - max(self._last_arrival, self._last_pass_end)
                    if quiet_for >= self._gap or now >= deadline:
                        break
                    self._cond.wait(min(self._gap - quiet_for, deadline - now))
                    tokens = self._gather(jobs, tokens)
                    self._held = len(jobs)
            return jobs

    def _steady_clients(self) -> int:
        """The number of clients that keep a steady number of requests in flight, each
        sending its next when the last is answered; 0 if the load does not look so.

        Such clients (a pipeline with N workers calling the service, a load test) keep
        exactly N requests in the merger at its fullest, window after window; requests
        that arrive independently of the answers (many unrelated users) make the peak
        vary. Only steady clients are worth holding a pass for: they all come back
        within moments of their answers, while waiting on independent arrivals only
        adds their wait to every request.
        """
        if len(self._window_peaks) == 2 and self._window_peaks[0] == self._window_peaks[1] >= MIN_STEADY_CLIENTS:
            return max(self._window_peaks[0], self._peak)
        return 0

    def _drop_cancelled(self) -> None:
        """Forget queued jobs whose client has gone: they take no budget and no place."""
        if any(job.future.cancelled() for job in self._pending):
            self._pending = deque(job for job in self._pending if not job.future.cancelled())

    def _gather(self, jobs: list[_Job], tokens: int) -> int:
        """Move queued jobs for the same models into ``jobs`` while the budget allows."""
        self._drop_cancelled()
        for job in list(self._pending):
            if job.models == jobs[0].models and tokens + job.tokens <= self._max_tokens:
                self._pending.remove(job)
                jobs.append(job)
                tokens += job.tokens
        return tokens

    def _loop(self) -> None:
        while (taken := self._take()) is not None:
            # A request whose client went away (its future cancelled) is dropped here;
            # set_running_or_notify_cancel also makes the later set_result safe.
            jobs = [job for job in taken if job.future.set_running_or_notify_cancel()]
            if not jobs:
                continue
            try:
                self._on_pass(len(jobs), sum(job.tokens for job in jobs))
                try:
                    results = self._run([d for job in jobs for d in job.documents], jobs[0].models)
                finally:
                    with self._cond:
                        self._held = 0
                        self._last_pass_end = time.monotonic()
                position = 0
                for job in jobs:
                    job.future.set_result(results[position : position + len(job.documents)])
                    position += len(job.documents)
            except Exception as exc:  # every waiting request gets the error; the worker lives on
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)
        with self._cond:
            for job in self._pending:
                if job.future.set_running_or_notify_cancel():
                    job.future.set_exception(Overloaded("server is shutting down"))
            self._pending.clear()
