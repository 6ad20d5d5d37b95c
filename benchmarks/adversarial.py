"""Hostile inputs and clients, with their timings: the cases of issue 10, items 1-5.

1. tokenizer on 10-100 KB adversarial documents (each case in a subprocess with a time
   limit, so a quadratic case shows as its limit, not as a hung run);
2. a 1 MB request that is refused for its token count: time to the 422, and how long
   ``/health`` waits meanwhile;
3. slow and idle connections: headers one byte at a time, a body shorter than
   declared, an idle connection, a 10 MB header: how long until the server answers or
   closes (each capped);
4. ten 20,000-token requests abandoned after 0.5 s, then one small request: its latency;
5. a burst of 300 concurrent 200-token requests with ``TAGGER_MAX_QUEUE=8``: latency
   of the 503s.

Usage: .venv/bin/python benchmarks/adversarial.py [--label after]
Writes benchmarks/results/adversarial_<label>.json. Run it with ``PYTHONPATH`` set to
another checkout to measure that checkout (the before/after comparison).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.processes import free_port  # noqa: E402

CASES = {
    "abbreviation then spaces": ("Mr.", " ", "x"),
    "a+ repeated": ("", "a+", ""),
    "dots": ("", ".", ""),
    "at signs": ("", "@", ""),
    "hyphens": ("", "-", ""),
    "digits": ("", "1", ""),
    "mixed scripts": ("", "aé東カ١ ", ""),
    "a@ repeated": ("", "a@", ""),
    "www.": ("", "www.", ""),
}
SIZES = (10_000, 25_000, 50_000, 100_000)
CASE_LIMIT_S = 20.0


def _tokenize_time(head: str, unit: str, tail: str, size: int) -> float | None:
    body = unit * max(1, (size - len(head) - len(tail)) // len(unit))
    code = (
        "import sys, time; from tagger.tokenize import tokenize; t = sys.stdin.read(); "
        "s = time.perf_counter(); tokenize(t); print(time.perf_counter() - s)"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            input=head + body + tail,
            capture_output=True,
            text=True,
            timeout=CASE_LIMIT_S,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return None
    return round(float(done.stdout), 3)


def tokenizer_cases() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (head, unit, tail) in CASES.items():
        times = {}
        for size in SIZES:
            seconds = _tokenize_time(head, unit, tail, size)
            times[str(size)] = seconds if seconds is not None else f">{CASE_LIMIT_S}"
            if seconds is None:
                break  # a larger input only takes longer
        out[name] = times
        print(f"tokenizer {name}: {times}", flush=True)
    return out


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tagger", "serve", "--port", str(port), "--log-level", "warning"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/ready", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not become ready")


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


async def big_refused_request(base: str) -> dict[str, Any]:
    body = json.dumps({"texts": ["a " * 3895] * 128})
    health: list[float] = []
    async with aiohttp.ClientSession(base) as client:

        async def big() -> tuple[int, float]:
            t0 = time.perf_counter()
            async with client.post("/tag", data=body, headers={"content-type": "application/json"}) as r:
                await r.read()
                return r.status, time.perf_counter() - t0

        async def probe() -> None:
            await asyncio.sleep(0.02)
            while not task.done():
                t0 = time.perf_counter()
                async with client.get("/health") as r:
                    await r.read()
                health.append(time.perf_counter() - t0)
                await asyncio.sleep(0.01)

        task = asyncio.ensure_future(big())
        await probe()
        status, seconds = await task
    return {
        "bytes": len(body),
        "status": status,
        "seconds_to_answer": round(seconds, 3),
        "health_max_ms": round(1000 * max(health), 1) if health else None,
        "health_probes": len(health),
    }


def _open(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=1)


def _wait_closed(sock: socket.socket, limit: float, trickle: bytes = b"") -> dict[str, Any]:
    """Seconds until the server answers or closes (trickling ``trickle`` one byte every
    0.5 s meanwhile), capped at ``limit``."""
    started = time.monotonic()
    answer = b""
    position = 0
    while time.monotonic() - started < limit:
        if trickle and position < len(trickle):
            try:
                sock.sendall(trickle[position : position + 1])
            except OSError:
                break
            position += 1
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            break
        if not chunk:
            break
        answer += chunk
        if b"\r\n\r\n" in answer:
            break
    seconds = time.monotonic() - started
    sock.close()
    status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/") else None
    return {"seconds": round(seconds, 2), "closed_or_answered": seconds < limit, "status": status}


def slow_clients(base: str, limit: float) -> dict[str, Any]:
    out = {}
    sock = _open(base)
    sock.settimeout(0.5)
    out["headers one byte every 0.5 s"] = _wait_closed(
        sock, limit, b"POST /tag HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 50
    )
    sock = _open(base)
    sock.sendall(
        b"POST /tag HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n0123456789"
    )
    out["body 10 of 100 bytes"] = _wait_closed(sock, limit)
    sock = _open(base)
    out["idle connection"] = _wait_closed(sock, limit)
    sock = _open(base)
    sock.settimeout(5)
    started = time.monotonic()
    try:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10_000_000 + b"\r\n\r\n")
        answer = sock.recv(4096)
    except OSError as exc:
        answer = str(exc).encode()
    sock.close()
    status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/") else answer[:60].decode()
    out["10 MB header"] = {"seconds": round(time.monotonic() - started, 2), "status": status}
    for name, result in out.items():
        print(f"slow client {name}: {result}", flush=True)
    return out


async def abandoned_then_small(base: str) -> dict[str, Any]:
    big = json.dumps({"text": "word " * 19_999})
    async with aiohttp.ClientSession(base) as client:

        async def abandon() -> None:
            try:
                async with client.post(
                    "/tag",
                    data=big,
                    headers={"content-type": "application/json"},
                    timeout=aiohttp.ClientTimeout(total=0.5),
                ) as r:
                    await r.read()
            except (TimeoutError, aiohttp.ClientError):
                pass

        await asyncio.gather(*(abandon() for _ in range(10)))
        t0 = time.perf_counter()
        async with client.post("/tag", json={"text": "Angela Merkel visited Paris."}) as r:
            await r.read()
            status = r.status
        seconds = time.perf_counter() - t0
        async with client.get("/metrics") as r:
            metrics = await r.text()
    disconnects = [line for line in metrics.splitlines() if line.startswith("tagger_client_disconnects_total")]
    tag_400 = [
        line for line in metrics.splitlines() if line.startswith('tagger_requests_total{route="/tag",status="400"')
    ]
    return {
        "next_request_seconds": round(seconds, 3),
        "next_status": status,
        "disconnect_metric": disconnects,
        "tag_400_metric": tag_400,
    }


async def overload_burst(base: str) -> dict[str, Any]:
    text = " ".join(["Angela Merkel visited Paris on Monday ."] * 29)[:1100]  # about 200 tokens
    statuses: list[int] = []
    refused: list[float] = []
    retry_after: list[str | None] = []
    connector = aiohttp.TCPConnector(limit=300)
    async with aiohttp.ClientSession(base, connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as client:

        async def one() -> None:
            t0 = time.perf_counter()
            async with client.post("/tag", json={"text": text}) as r:
                await r.read()
            statuses.append(r.status)
            if r.status == 503:
                refused.append(time.perf_counter() - t0)
                retry_after.append(r.headers.get("Retry-After"))

        await asyncio.gather(*(one() for _ in range(300)))
        async with client.get("/metrics") as r:
            metrics = await r.text()
    ordered = sorted(refused)
    return {
        "requests": len(statuses),
        "ok": statuses.count(200),
        "refused_503": len(refused),
        "503_p50_ms": round(1000 * statistics.median(ordered), 1) if ordered else None,
        "503_p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1) if ordered else None,
        "all_503_have_retry_after": all(r is not None for r in retry_after),
        "server_503_p99_ms_at_most": _histogram_p99_ms(metrics, "tagger_overload_refusal_seconds"),
    }


def _histogram_p99_ms(metrics: str, name: str) -> float | None:
    """The upper bound of the bucket holding the 99th percentile of a Prometheus
    histogram (``None`` when the server has no such metric)."""
    buckets = []
    for line in metrics.splitlines():
        if line.startswith(name + "_bucket{"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float(bound), float(line.rsplit(" ", 1)[1])))
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]
    return next(round(1000 * bound, 2) for bound, count in buckets if count >= 0.99 * total)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="after")
    parser.add_argument("--slow-limit", type=float, default=12.0, help="seconds a slow-client case is watched")
    parser.add_argument("--only-overload", action="store_true", help="run the overload burst alone (item 5)")
    args = parser.parse_args()
    results: dict[str, Any] = {"label": args.label}
    if not args.only_overload:
        results["tokenizer_seconds"] = tokenizer_cases()
        settings = {"TAGGER_HEADER_TIMEOUT_S": "5", "TAGGER_BODY_TIMEOUT_S": "5"}
        proc, base = start_server(settings)
        try:
            results["big_refused_request"] = asyncio.run(big_refused_request(base))
            print(f"1 MB refused request: {results['big_refused_request']}", flush=True)
            results["slow_clients"] = slow_clients(base, args.slow_limit)
            results["slow_client_settings"] = settings
            results["abandoned"] = asyncio.run(abandoned_then_small(base))
            print(f"abandoned requests: {results['abandoned']}", flush=True)
        finally:
            stop(proc)
    proc, base = start_server({"TAGGER_MAX_QUEUE": "8"})
    try:
        results["overload_burst"] = asyncio.run(overload_burst(base))
        print(f"overload burst: {results['overload_burst']}", flush=True)
    finally:
        stop(proc)
    out = ROOT / "benchmarks" / "results" / f"adversarial_{args.label}.json"
    if args.only_overload and out.is_file():  # keep the other cases of an earlier full run
        results = {**json.loads(out.read_text()), "overload_burst": results["overload_burst"]}
    out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
