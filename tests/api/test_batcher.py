from __future__ import annotations

import asyncio
import threading
import time

import pytest

from api.batcher import MicroBatcher, Overloaded
from tagger.documents import TaggedDocument
from tagger.predict import PreparedDocument
from tagger.tokenize import tokenize


def doc(text: str) -> PreparedDocument:
    return PreparedDocument(text, tokenize(text))


def echo(docs, models):  # type: ignore[no-untyped-def]
    return [TaggedDocument(d.text, [], []) for d in docs]


def test_cancelled_request_does_not_kill_the_worker() -> None:
    gate = threading.Event()

    def slow(docs, models):  # type: ignore[no-untyped-def]
        gate.wait(5)
        return echo(docs, models)

    batcher = MicroBatcher(slow, max_batch_tokens=1000, max_wait_s=0.0, max_queue=10)

    async def scenario() -> list[str]:
        first = asyncio.ensure_future(batcher.submit([doc("a")], None))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(batcher.submit([doc("b")], None))
        await asyncio.sleep(0.05)
        second.cancel()  # the client went away while queued
        first.cancel()  # and this one while running
        gate.set()
        await asyncio.sleep(0.1)
        results = await batcher.submit([doc("c")], None)
        return [d.text for d in results]

    assert asyncio.run(scenario()) == ["c"]
    batcher.close()


def test_worker_error_reaches_the_caller_and_worker_survives() -> None:
    calls = []

    def flaky(docs, models):  # type: ignore[no-untyped-def]
        calls.append(len(docs))
        if len(calls) == 1:
            raise RuntimeError("boom")
        return echo(docs, models)

    batcher = MicroBatcher(flaky, max_batch_tokens=1000, max_wait_s=0.0, max_queue=10)
    with pytest.raises(RuntimeError, match="boom"):
        asyncio.run(batcher.submit([doc("a")], None))
    assert [d.text for d in asyncio.run(batcher.submit([doc("b")], None))] == ["b"]
    batcher.close()
    with pytest.raises(Overloaded, match="shutting down"):
        asyncio.run(batcher.submit([doc("c")], None))


class Recorder:
    """A run function that records each pass's documents and start time; the first pass
    waits for ``gate``."""

    def __init__(self) -> None:
        self.passes: list[list[str]] = []
        self.started: list[float] = []
        self.gate = threading.Event()

    def __call__(self, docs, models):  # type: ignore[no-untyped-def]
        if not self.passes:
            self.gate.wait(5)
        self.started.append(time.monotonic())
        self.passes.append([d.text for d in docs])
        return echo(docs, models)


async def scenario(batcher: MicroBatcher, recorder: Recorder, queued: list[str], late: list[str]) -> float:
    """One pass held at the gate with ``queued`` behind it (so several requests were in
    flight at once), then ``late`` arriving one every 50 ms after the gate opens.
    Returns when the gate opened."""
    first = asyncio.ensure_future(batcher.submit([doc("a")], None))
    await asyncio.sleep(0.05)
    waiting = [asyncio.ensure_future(batcher.submit([doc(t)], None)) for t in queued]
    await asyncio.sleep(0.05)
    opened = time.monotonic()
    recorder.gate.set()
    for text in late:
        await asyncio.sleep(0.05)
        waiting.append(asyncio.ensure_future(batcher.submit([doc(text)], None)))
    await asyncio.gather(first, *waiting)
    return opened


def test_the_pass_waits_for_as_many_requests_as_were_in_flight() -> None:
    # Four were in the batcher at once (a running, b c d queued): after a's pass the
    # worker holds b c d until a fourth request comes, well before the gap ends.
    recorder = Recorder()
    batcher = MicroBatcher(recorder, max_batch_tokens=1000, max_wait_s=5.0, max_queue=10, gap_s=5.0)
    opened = asyncio.run(scenario(batcher, recorder, ["b", "c", "d"], ["e", "f"]))
    batcher.close()
    assert recorder.passes == [["a"], ["b", "c", "d", "e"], ["f"]]
    assert recorder.started[1] - opened < 2.5  # not held for the 5 s gap


def test_requests_that_keep_arriving_join_the_pass_until_a_gap() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, max_batch_tokens=1000, max_wait_s=5.0, max_queue=20, gap_s=0.01)
    asyncio.run(scenario(batcher, recorder, ["b", "c", "d", "e", "f", "g"], []))
    # b..g are all queued when a's pass ends; seven were in flight, six are here, and
    # no seventh comes: the pass starts after the short gap.
    batcher.close()
    assert recorder.passes == [["a"], ["b", "c", "d", "e", "f", "g"]]


def test_gathering_stops_at_max_wait() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, max_batch_tokens=1000, max_wait_s=0.3, max_queue=20, gap_s=5.0)
    opened = asyncio.run(scenario(batcher, recorder, ["b", "c", "d"], []))
    batcher.close()
    assert recorder.passes == [["a"], ["b", "c", "d"]]
    assert 0.25 <= recorder.started[1] - opened < 2.5  # held for max_wait, not the 5 s gap


def test_a_lone_client_is_never_held() -> None:
    recorder = Recorder()
    recorder.gate.set()
    batcher = MicroBatcher(recorder, max_batch_tokens=1000, max_wait_s=5.0, max_queue=10, gap_s=5.0)
    started = time.monotonic()
    for text in ("a", "b", "c"):
        assert [d.text for d in asyncio.run(batcher.submit([doc(text)], None))] == [text]
    assert time.monotonic() - started < 2.5  # a held pass would take 5 s
    batcher.close()
    assert recorder.passes == [["a"], ["b"], ["c"]]
