from __future__ import annotations

import asyncio
import threading

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
