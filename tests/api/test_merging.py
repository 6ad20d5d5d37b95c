from __future__ import annotations

import asyncio
import threading
import time

import pytest

from api.merging import Overloaded, RequestMerger
from tagger.document import TaggedDocument
from tagger.pipeline import PreparedDocument
from tagger.tokenize import tokenize


def doc(text: str) -> PreparedDocument:
    return PreparedDocument(text, tokenize(text))


def echo(docs, models):  # type: ignore[no-untyped-def]
    return [TaggedDocument(sentences=[], text=d.text) for d in docs]


def test_cancelled_request_does_not_kill_the_worker() -> None:
    gate = threading.Event()

    def slow(docs, models):  # type: ignore[no-untyped-def]
        gate.wait(5)
        return echo(docs, models)

    merger = RequestMerger(slow, max_merged_tokens=1000, max_wait_s=0.0, max_queue=10)

    async def scenario() -> list[str]:
        first = asyncio.ensure_future(merger.tag([doc("a")], None))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(merger.tag([doc("b")], None))
        await asyncio.sleep(0.05)
        second.cancel()  # the client went away while queued
        first.cancel()  # and this one while running
        gate.set()
        await asyncio.sleep(0.1)
        results = await merger.tag([doc("c")], None)
        return [d.text for d in results]

    assert asyncio.run(scenario()) == ["c"]
    merger.close()


def test_worker_error_reaches_the_caller_and_worker_survives() -> None:
    calls = []

    def flaky(docs, models):  # type: ignore[no-untyped-def]
        calls.append(len(docs))
        if len(calls) == 1:
            raise RuntimeError("boom")
        return echo(docs, models)

    merger = RequestMerger(flaky, max_merged_tokens=1000, max_wait_s=0.0, max_queue=10)
    with pytest.raises(RuntimeError, match="boom"):
        asyncio.run(merger.tag([doc("a")], None))
    assert [d.text for d in asyncio.run(merger.tag([doc("b")], None))] == ["b"]
    merger.close()
    with pytest.raises(Overloaded, match="shutting down"):
        asyncio.run(merger.tag([doc("c")], None))


class Recorder:
    """A run function that takes ``pass_s`` and records each pass's documents."""

    def __init__(self, pass_s: float = 0.02) -> None:
        self.pass_s = pass_s
        self.passes: list[list[str]] = []

    def __call__(self, docs, models):  # type: ignore[no-untyped-def]
        time.sleep(self.pass_s)
        self.passes.append([d.text for d in docs])
        return echo(docs, models)


def merger_for(recorder: Recorder, max_wait_s: float, gap_s: float) -> RequestMerger:
    return RequestMerger(
        recorder, max_merged_tokens=1000, max_wait_s=max_wait_s, max_queue=50, gap_s=gap_s, peak_window_s=0.1
    )


async def steady_clients(merger: RequestMerger, clients: int, seconds: float, busy_s: float = 0.0) -> list[float]:
    """``clients`` loops, each sending its next request when the last is answered, after
    ``busy_s`` of work that blocks the event loop (as a server's answers are sent one by
    one); returns every request's latency."""
    latencies: list[float] = []
    stop = time.monotonic() + seconds

    async def client(name: str) -> None:
        while time.monotonic() < stop:
            started = time.monotonic()
            await merger.tag([doc(name)], None)
            latencies.append(time.monotonic() - started)
            time.sleep(busy_s)

    await asyncio.gather(*(client(str(i)) for i in range(clients)))
    return latencies


@pytest.mark.parametrize("max_wait_s", [0.5, 0.0])
def test_steady_clients_are_gathered_into_one_pass(max_wait_s: float) -> None:
    recorder = Recorder()
    merger = merger_for(recorder, max_wait_s, gap_s=0.05)
    asyncio.run(steady_clients(merger, clients=4, seconds=1.0, busy_s=0.005))
    merger.close()
    last = [len(p) for p in recorder.passes[-12:-2]]  # steady state (the clients stop one by one)
    if max_wait_s > 0:
        assert last == [4] * 10
    else:  # gathering off: the clients split into groups that take turns
        assert 4 not in last


def test_a_missing_steady_client_is_waited_for_at_most_max_wait() -> None:
    recorder = Recorder()
    merger = merger_for(recorder, max_wait_s=0.3, gap_s=5.0)

    async def scenario() -> float:
        # Four clients in rounds: each round all four send and wait for their answers.
        # Rounds, not four free-running loops, so that all four stop in the same round:
        # left to the clock, one client can be woken just before the deadline and the
        # others just after, and its last request waits alone (the flake this replaced).
        stop = time.monotonic() + 0.8
        while time.monotonic() < stop:
            await asyncio.gather(*(merger.tag([doc(str(i))], None) for i in range(4)))
        assert recorder.passes[-1] == ["0", "1", "2", "3"]  # gathering was on
        started = time.monotonic()
        await merger.tag([doc("alone")], None)  # the other three have gone
        return time.monotonic() - started

    held = asyncio.run(scenario())
    merger.close()
    assert 0.25 <= held < 2.5  # held for max_wait (0.3 s), not for the 5 s gap


def test_a_client_after_a_pause_is_not_held_for_the_clients_before_it() -> None:
    recorder = Recorder()
    merger = merger_for(recorder, max_wait_s=5.0, gap_s=5.0)

    async def scenario() -> float:
        await steady_clients(merger, clients=4, seconds=0.6, busy_s=0.005)
        await asyncio.sleep(0.3)  # three windows without a request
        started = time.monotonic()
        await merger.tag([doc("later")], None)
        return time.monotonic() - started

    waited = asyncio.run(scenario())
    merger.close()
    assert waited < 2.5  # a held pass would take 5 s


def test_independent_arrivals_are_not_held() -> None:
    recorder = Recorder(pass_s=0.005)
    merger = merger_for(recorder, max_wait_s=5.0, gap_s=5.0)

    async def scenario() -> list[float]:
        latencies: list[float] = []

        async def one(name: str) -> None:
            started = time.monotonic()
            await merger.tag([doc(name)], None)
            latencies.append(time.monotonic() - started)

        for burst in [1, 3, 2, 5, 1, 4, 2, 6, 3, 1]:  # a different peak in every window
            await asyncio.gather(*(one(f"{burst}.{i}") for i in range(burst)))
            await asyncio.sleep(0.12)
        return latencies

    latencies = asyncio.run(scenario())
    merger.close()
    assert max(latencies) < 2.5  # a held pass would take 5 s


def test_a_lone_client_is_never_held() -> None:
    recorder = Recorder(pass_s=0.0)
    merger = merger_for(recorder, max_wait_s=5.0, gap_s=5.0)
    latencies = asyncio.run(steady_clients(merger, clients=1, seconds=0.5))
    merger.close()
    assert max(latencies) < 2.5  # a held pass would take 5 s
    assert {len(p) for p in recorder.passes} == {1}


def test_jobs_of_departed_clients_take_no_place_in_the_queue() -> None:
    gate = threading.Event()

    def slow(docs, models):  # type: ignore[no-untyped-def]
        gate.wait(5)
        return [TaggedDocument(sentences=[], text=d.text) for d in docs]

    merger = RequestMerger(slow, max_merged_tokens=1000, max_wait_s=0.0, max_queue=2)

    async def scenario() -> None:
        running = asyncio.ensure_future(merger.tag([doc("a")], None))  # taken by the worker, blocked
        await asyncio.sleep(0.1)
        queued = [asyncio.ensure_future(merger.tag([doc(n)], None)) for n in ("b", "c")]
        await asyncio.sleep(0.05)
        for job in queued:  # their clients leave
            job.cancel()
        await asyncio.sleep(0.05)
        later = asyncio.ensure_future(merger.tag([doc("d")], None))  # the queue is not full of ghosts
        await asyncio.sleep(0.05)
        assert merger.depth == 1
        gate.set()
        assert [d.text for d in await later] == ["d"] and [d.text for d in await running] == ["a"]

    asyncio.run(scenario())
    merger.close()
