"""tagger/workers.py: chunks tagged in forked workers, results handed back in input order."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

from tagger import workers
from tagger.workers import OrderedRunner, default_workers

ROOT = Path(__file__).resolve().parent.parent
needs_fork = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="worker processes need fork"
)


class StandIn:
    """All OrderedRunner reads of its tagger: the device."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device


def uneven(tagger: object, chunk: int) -> tuple[int, int]:
    """Takes a different (small) time per chunk, so chunks finish out of order."""
    time.sleep(random.Random(chunk).uniform(0.0, 0.03))
    return chunk, os.getpid()


def echo(tagger: object, chunk: int) -> int:
    return chunk


def fail_on_three(tagger: object, chunk: int) -> int:
    if chunk == 3:
        raise ValueError(f"bad chunk {chunk}")
    return chunk


def worker_state(tagger: object, chunk: int) -> tuple[int, object, int, list[int]]:
    np.ones((64, 64)) @ np.ones((64, 64))  # NumPy's BLAS loaded and used, as the CRF does
    blas = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    return os.getpid(), signal.getsignal(signal.SIGINT), torch.get_num_threads(), blas


def no_children_within(seconds: float) -> list[multiprocessing.process.BaseProcess]:
    deadline = time.monotonic() + seconds
    while (children := multiprocessing.active_children()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return children


@pytest.fixture(autouse=True)
def no_leftover_workers() -> None:
    assert multiprocessing.active_children() == []


def test_one_worker_runs_in_process() -> None:
    runner = OrderedRunner(StandIn(), uneven, workers=1)  # type: ignore[arg-type]
    assert runner.pool is None
    assert runner.put(5) == [(5, os.getpid())]  # due at once, computed here
    assert runner.put(2) == [(2, os.getpid())]
    assert runner.drain() == []
    runner.close()
    assert multiprocessing.active_children() == []


def test_cuda_tagger_never_forks() -> None:
    runner = OrderedRunner(StandIn("cuda"), echo, workers=4)  # type: ignore[arg-type]
    assert runner.workers == 1
    assert runner.pool is None
    assert runner.put(7) == [7]
    runner.close()
    assert multiprocessing.active_children() == []


@needs_fork
def test_two_workers_keep_input_order() -> None:
    chunks = list(range(20))
    results: list[tuple[int, int]] = []
    with OrderedRunner(StandIn(), uneven, workers=2) as runner:  # type: ignore[arg-type]
        assert runner.workers == 2
        for chunk in chunks:
            results.extend(runner.put(chunk))
            assert len(runner.pending) <= 4  # at most 2 * workers chunks in flight
        results.extend(runner.drain())
        assert not runner.pending
    assert [chunk for chunk, _ in results] == chunks
    pids = {pid for _, pid in results}
    assert os.getpid() not in pids
    assert 1 <= len(pids) <= 2
    assert no_children_within(5) == []


@needs_fork
def test_put_hands_back_only_what_is_due() -> None:
    with OrderedRunner(StandIn(), echo, workers=2) as runner:  # type: ignore[arg-type]
        assert [runner.put(chunk) for chunk in range(4)] == [[], [], [], []]  # 4 = 2 * workers in flight
        assert runner.put(4) == [0]
        assert runner.put(5) == [1]
        assert runner.drain() == [2, 3, 4, 5]
        assert runner.drain() == []


@needs_fork
def test_drain_returns_the_rest_in_order() -> None:
    with OrderedRunner(StandIn(), uneven, workers=2) as runner:  # type: ignore[arg-type]
        for chunk in (9, 8, 7):
            assert runner.put(chunk) == []
        assert [chunk for chunk, _ in runner.drain()] == [9, 8, 7]
        assert runner.drain() == []


@needs_fork
def test_close_stops_every_worker() -> None:
    runner = OrderedRunner(StandIn(), echo, workers=2)  # type: ignore[arg-type]
    runner.put(1)
    assert runner.pool is not None
    pids = list(runner.pool._processes)
    assert len(pids) == 2
    assert len(multiprocessing.active_children()) == 2
    runner.close()
    assert runner.pool is None
    assert multiprocessing.active_children() == []
    for pid in pids:
        assert not alive(pid)
    runner.close()  # a second close is harmless


@needs_fork
def test_close_with_results_pending() -> None:
    runner = OrderedRunner(StandIn(), uneven, workers=2)  # type: ignore[arg-type]
    for chunk in range(4):
        runner.put(chunk)
    runner.close()  # without draining: cancels what has not started, waits for the rest
    assert multiprocessing.active_children() == []


@needs_fork
def test_context_manager_closes() -> None:
    with OrderedRunner(StandIn(), echo, workers=2) as runner:  # type: ignore[arg-type]
        runner.put(1)
    assert runner.pool is None
    assert multiprocessing.active_children() == []


@needs_fork
def test_error_in_a_worker_reaches_the_caller() -> None:
    with OrderedRunner(StandIn(), fail_on_three, workers=2) as runner:  # type: ignore[arg-type]
        for chunk in range(4):
            runner.put(chunk)
        with pytest.raises(ValueError, match="bad chunk 3"):
            runner.drain()
    assert multiprocessing.active_children() == []


@needs_fork
def test_workers_ignore_ctrl_c_and_use_their_threads() -> None:
    # The parent handles Ctrl-C itself (a test run started in the background may inherit
    # SIGINT ignored, which would prove nothing about the workers).
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with OrderedRunner(StandIn(), worker_state, workers=2, threads_per_worker=1) as runner:  # type: ignore[arg-type]
            for chunk in range(4):
                runner.put(chunk)
            states = runner.drain()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the parent's own is untouched
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert all(pid != os.getpid() for pid, _, _, _ in states)
    assert all(handler == signal.SIG_IGN for _, handler, _, _ in states)  # the parent alone handles Ctrl-C
    assert all(threads == 1 for _, _, threads, _ in states)
    assert all(blas and set(blas) == {1} for _, _, _, blas in states)  # one BLAS thread, not one per core


def test_worker_run_without_initializer_fails() -> None:
    with pytest.raises(RuntimeError, match="worker process was not initialised"):
        workers._run(1)


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


PARENT_SCRIPT = """
import sys, time
from tagger.workers import OrderedRunner

class StandIn:
    device = "cpu"

runner = OrderedRunner(StandIn(), lambda tagger, chunk: chunk, workers=2)
runner.put(0)
print(" ".join(str(pid) for pid in runner.pool._processes), flush=True)
time.sleep(60)
"""


@needs_fork
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="dying with the parent is Linux's PR_SET_PDEATHSIG")
def test_workers_die_with_their_parent() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT_SCRIPT],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    pids: list[int] = []
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        pids = [int(pid) for pid in line.split()]
        assert len(pids) == 2, line
        assert all(alive(pid) for pid in pids)
        deadline = time.monotonic() + 20
        while not all(worker_ready(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.02)  # the kill must come after each worker has asked to die with its parent
        parent.kill()  # SIGKILL: no cleanup of any kind runs in the parent
        parent.wait(5)
        deadline = time.monotonic() + 5
        while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [pid for pid in pids if alive(pid)] == []
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(5)
        if parent.stdout is not None:
            parent.stdout.close()
        for pid in pids:  # survivors of a failed test: never leave them running
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def worker_ready(pid: int) -> bool:
    """Whether a worker has run its initializer (it then ignores SIGINT)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    ignored = next((line.split()[1] for line in status.splitlines() if line.startswith("SigIgn:")), "0")
    return bool(int(ignored, 16) & (1 << (signal.SIGINT - 1)))


def test_default_workers_cuda_is_one() -> None:
    assert default_workers("cuda") == 1
    assert default_workers("cuda:1") == 1
    assert default_workers("cpu:0") == default_workers("cpu")  # a CPU with an index is still a CPU
    assert default_workers("mps") == 1


def test_default_workers_cpu() -> None:
    count = default_workers("cpu")
    assert 1 <= count <= 8
    if "fork" in multiprocessing.get_all_start_methods():
        assert count == min(8, workers.usable_cores())


@pytest.mark.parametrize(("cores", "expected"), [(1, 1), (3, 3), (8, 8), (64, 8)])
def test_default_workers_follow_usable_cores(monkeypatch: pytest.MonkeyPatch, cores: int, expected: int) -> None:
    monkeypatch.setattr(workers, "usable_cores", lambda: cores)
    monkeypatch.setattr(workers.multiprocessing, "get_all_start_methods", lambda: ["fork", "spawn"])
    assert default_workers("cpu") == expected


def test_default_workers_without_fork_is_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "usable_cores", lambda: 16)
    monkeypatch.setattr(workers.multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    assert default_workers("cpu") == 1
