"""Run ``tagger serve`` as a real process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from benchmarks.processes import free_port


@contextmanager
def running_server(
    command: Sequence[str], cwd: Path, env: dict[str, str], pids: list[int] | None = None
) -> Iterator[httpx.Client]:
    """Start ``command --port P``, wait for /ready, yield a client; stop it afterwards.

    The server's process id is appended to ``pids`` when given."""
    port = free_port()
    log = cwd / f"server-{port}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    if pids is not None:
        pids.append(proc.pid)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if http.get("/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(f"server never became ready:\n{log.read_text()}")
                time.sleep(0.2)
            yield http
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
