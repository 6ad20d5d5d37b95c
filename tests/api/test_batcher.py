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
    """A run function that records each pass's documents; the first pass waits for ``gate``."""

    def __init__(self) -> None:
        self.passes: list[list[str]] = []
        self.gate = threading.Event()

    def __call__(self, docs, models):  # type: ignore[no-untyped-def]
        if not self.passes:
            self.gate.wait(5)
        self.passes.append([d.text for d in docs])
        return echo(docs, models)


async def trickle(batcher: MicroBatcher, recorder: Recorder, late: list[str], every_s: float) -> None:
    """One pass held at the gate, two requests queued behind it, then ``late`` arriving
    one every ``every_s`` after the gate opens."""
    first = asyncio.ensure_future(batcher.submit([doc("a")], None))
    await asyncio.sleep(0.05)
    queued = [asyncio.ensure_future(batcher.submit([doc(t)], None)) for t in ("b", "c")]
    await asyncio.sleep(0.05)
    recorder.gate.set()
    arriving = []
    for text in late:
        await asyncio.sleep(every_s)
        arriving.append(asyncio.ensure_future(batcher.submit([doc(text)], None)))
    await asyncio.gather(first, *queued, *arriving)


def test_requests_that_keep_arriving_join_the_pass() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, max_batch_tokens=1000, max_wait_s=5.0, max_queue=10, gap_s=0.5)
    asyncio.run(trickle(batcher, recorder, ["d", "e", "f"], every_s=0.05))
    batcher.close()
    assert recorder.passes == [["a"], ["b", "c", "d", "e", "f"]]


def test_gathering_stops_at_max_wait() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, max_batch_tokens=1000, max_wait_s=0.3, max_queue=20, gap_s=5.0)
    late = [str(i) for i in range(10)]
    asyncio.run(trickle(batcher, recorder, late, every_s=0.1))
    batcher.close()
    assert recorder.passes[0] == ["a"]
    assert recorder.passes[1][:2] == ["b", "c"] and len(recorder.passes[1]) < 2 + len(late)
    assert [t for p in recorder.passes[1:] for t in p] == ["b", "c", *late]


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
