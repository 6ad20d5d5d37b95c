"""Slow, idle and oversized clients against a real ``tagger serve`` process: the
deadlines and caps of ``api/protocol.py`` and the admission checks of the app."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import MODELS
from tests.server_process import running_server

LIMITS = {
    "TAGGER_HEADER_TIMEOUT_S": "1",
    "TAGGER_BODY_TIMEOUT_S": "1",
    "TAGGER_MAX_HEADER_BYTES": "4096",
    "TAGGER_MAX_QUEUE": "2",
    "TAGGER_WARMUP": "false",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    env = {**os.environ, **LIMITS}
    command = [sys.executable, "-m", "tagger", "serve", "--model", str(MODELS / "ner-en-conll03")]
    with running_server(command, tmp_path_factory.mktemp("server"), env) as http:
        yield http


def _connect(http: httpx.Client) -> socket.socket:
    sock = socket.create_connection((http.base_url.host, http.base_url.port), timeout=5)
    return sock


def _read_until_closed(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    started = time.monotonic()
    data = b""
    sock.settimeout(0.2)
    while time.monotonic() - started < limit:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data, time.monotonic() - started


def test_an_idle_connection_is_closed_after_the_header_deadline(server: httpx.Client) -> None:
    sock = _connect(server)
    data, seconds = _read_until_closed(sock, limit=6)
    assert data == b"" and seconds < 4


def test_headers_trickled_one_byte_at_a_time_are_cut_off(server: httpx.Client) -> None:
    sock = _connect(server)
    started = time.monotonic()
    request = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: y\r\n" * 40
    closed = False
    for byte in request:
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            closed = True
            break
        time.sleep(0.1)
        if time.monotonic() - started > 6:
            break
    if not closed:
        data, _ = _read_until_closed(sock, limit=2)
        closed = data == b""
    assert closed and time.monotonic() - started < 5


def test_a_body_shorter_than_declared_gets_408(server: httpx.Client) -> None:
    sock = _connect(server)
    head = b"POST /tag HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n"
    sock.sendall(head + b'{"text": "')
    data, seconds = _read_until_closed(sock, limit=6)
    assert data.startswith(b"HTTP/1.1 408 ") and b"body_timeout_s=1" in data
    assert seconds < 4


def test_oversized_headers_get_431_without_being_held(server: httpx.Client) -> None:
    sock = _connect(server)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8_000 + b"\r\n\r\n")
    data, _ = _read_until_closed(sock, limit=4)
    assert data.startswith(b"HTTP/1.1 431 ") and b"max_header_bytes=4096" in data


def test_ordinary_requests_still_work_and_keep_alive(server: httpx.Client) -> None:
    for _ in range(3):
        assert server.get("/health").json() == {"status": "alive"}
    r = server.post("/tag", json={"text": "Angela Merkel visited Paris."})
    assert r.status_code == 200 and [e["label"] for e in r.json()["documents"][0]["entities"]] == ["PER", "LOC"]


def test_overload_is_refused_before_the_body_is_read(server: httpx.Client) -> None:
    """With max_queue=2 requests in the service, a third gets 503 at once, although its
    body has not even been sent."""
    head = b"POST /tag HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 50\r\n\r\n"
    holders = [_connect(server) for _ in range(2)]
    for sock in holders:  # admitted, then waiting for their bodies
        sock.sendall(head)
    time.sleep(0.3)
    sock = _connect(server)
    started = time.monotonic()
    sock.sendall(head)
    sock.settimeout(3)
    answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 503 ") and b"retry-after: 1" in answer.lower()
    assert time.monotonic() - started < 0.5
    for s in (*holders, sock):
        s.close()


def test_an_abandoned_request_is_counted_as_a_disconnect_not_a_400(server: httpx.Client) -> None:
    def metric(text: str, prefix: str) -> float:
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))

    time.sleep(1.5)  # connections of earlier tests cut off by the body deadline are counted by now
    before = server.get("/metrics").text
    head = b"POST /tag HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n"
    sock = _connect(server)
    sock.sendall(head + b'{"text": "abc')
    sock.close()  # gone while its body was read
    big = json.dumps({"text": "word " * 19_000}).encode()
    sock = _connect(server)
    sock.sendall(
        b"POST /tag HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(big)
    )
    sock.sendall(big)
    time.sleep(0.05)
    sock.close()  # gone while it was queued or tagged
    time.sleep(1.5)
    after = server.get("/metrics").text
    gone = 'tagger_client_disconnects_total{route="/tag"}'
    assert metric(after, gone) - metric(before, gone) == 2
    bad = 'tagger_requests_total{route="/tag",status="400"}'
    assert metric(after, bad) == metric(before, bad)


def test_the_event_loop_answers_health_while_a_big_request_is_refused(tmp_path: Path) -> None:
    """A 1 MB body of 128 texts whose tokens exceed the limit: refused quickly, and
    /health is answered meanwhile."""
    env = {**os.environ, "TAGGER_WARMUP": "false"}
    command = [sys.executable, "-m", "tagger", "serve", "--model", str(MODELS / "ner-en-conll03")]
    with running_server(command, tmp_path, env) as http:
        body = json.dumps({"texts": ["a " * 3895] * 128})
        result: dict[str, object] = {}

        def big() -> None:
            t0 = time.monotonic()
            r = httpx.post(
                str(http.base_url.join("/tag")), content=body, headers={"content-type": "application/json"}, timeout=30
            )
            result.update(status=r.status_code, seconds=time.monotonic() - t0, detail=r.json()["detail"])

        worker = threading.Thread(target=big)
        worker.start()
        waits = []
        while worker.is_alive():
            t0 = time.monotonic()
            http.get("/health")
            waits.append(time.monotonic() - t0)
        worker.join()
        assert result["status"] == 422 and "limit max_tokens=20000" in str(result["detail"])
        assert float(str(result["seconds"])) < 2.0
        assert max(waits) < 1.0
