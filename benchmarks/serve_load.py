"""Load test of the real server on loopback: throughput and latency, request merging on and off.

Starts ``tagger serve`` as a separate process (one per setting), waits for /ready
(start-up time), reads its resident memory, then drives it with an async HTTP client
sending one-sentence requests (CoNLL-2003 dev sentences, detokenized) at a fixed
concurrency, bounded by a request count and a time limit; each setting runs
``--repeats`` times and the summary holds the medians. Each run goes on through the
sentences where the one before it stopped, so it sends text the server has not seen as
long as the 2,701 sentences of 5 tokens or more last (``--requests 600`` with the
defaults otherwise): repeated text would find every word in the server's word memo.

The client shares the machine's two cores with the server, so absolute numbers are a
floor; the comparison between settings is what the run is for.

Usage: .venv/bin/python benchmarks/serve_load.py [--requests 1500] [--seconds 40] [--repeats 3]
Writes benchmarks/results/serve_load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
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

from benchmarks.corpus_text import DATA, conll_dev_text  # noqa: E402
from benchmarks.processes import free_port, process_tree  # noqa: E402

MEDIANS = ("requests_per_s", "tokens_per_s", "p50_ms", "p99_ms")


def latency_ms(latencies: list[float]) -> dict[str, float]:
    """p50 and p99 in milliseconds (p99: the value below which 99% of requests fall)."""
    ordered = sorted(latencies)
    return {
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1),
    }


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Memory of a server and its worker processes (spawned, so nothing is shared)."""
    total = 0.0
    for member in process_tree(pid):
        for line in Path(f"/proc/{member}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                total += int(line.split()[1]) / 1024
    return total


def start_server(env_overrides: dict[str, str], ready_checks: int = 10) -> tuple[subprocess.Popen[bytes], str, float]:
    """Start ``tagger serve``; returns once ``ready_checks`` fresh /ready requests in a
    row answered 200, with the seconds that took."""
    port = free_port()
    env = {**os.environ, **env_overrides}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tagger", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    ready_in_a_row = 0  # with several workers each must be ready: ask over fresh connections
    while ready_in_a_row < ready_checks:
        try:
            ready = httpx.get(base + "/ready", timeout=5).status_code == 200
        except httpx.TransportError:
            ready = False
        ready_in_a_row = ready_in_a_row + 1 if ready else 0
        if proc.poll() is not None:
            raise RuntimeError("server exited during start-up")
        if not ready:
            time.sleep(0.02)
    return proc, base, time.perf_counter() - started


async def drive(
    base: str, texts: list[str], concurrency: int, requests: int, seconds: float, first: int = 0
) -> dict[str, Any]:
    """``concurrency`` connections, each sending its next request when the last is answered,
    the texts from ``texts[first]`` on (wrapping around).

    aiohttp rather than httpx: on two shared cores the client's own CPU time comes out
    of the server's, and aiohttp's C parser needs several times less per request.
    """
    latencies: list[float] = []
    tokens = errors = 0
    issued = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base, connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as client:

        async def worker() -> None:
            nonlocal tokens, errors, issued
            while issued < requests and time.perf_counter() < deadline:
                text = texts[(first + issued) % len(texts)]
                issued += 1
                t0 = time.perf_counter()
                async with client.post("/tag", json={"text": text}) as r:
                    body = await r.read()
                latencies.append(time.perf_counter() - t0)
                if r.status != 200:
                    errors += 1
                    continue
                tokens += sum(len(s) for s in json.loads(body)["documents"][0]["sentences"])

        async def warm() -> None:
            async with client.get("/health") as r:
                await r.read()

        await asyncio.gather(*(warm() for _ in range(concurrency)))  # open the connections
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "tokens_per_s": round(tokens / elapsed),
    } | latency_ms(latencies)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500, help="requests per run at concurrency 32")
    parser.add_argument("--requests-serial", type=int, default=300, help="requests per run at concurrency 1")
    parser.add_argument("--seconds", type=float, default=40, help="time limit per run")
    parser.add_argument("--workers", type=int, default=1, help="server processes (TAGGER_WORKERS)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per setting; medians are reported")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", default="serve_load.json", help="file name under benchmarks/results")
    parser.add_argument(
        "--same-text",
        action="store_true",
        help="every run sends the same first sentences (before 2026-12-07: later runs found their words "
        "in the server's word memo); default: each run goes on where the last stopped",
    )
    args = parser.parse_args()
    texts = [s.text for s in conll_dev_text(args.data) if len(s.tokens) >= 5]
    results: dict[str, Any] = {"runs": [], "summary": [], "cpu_count": os.cpu_count()}
    for batching in ("true", "false"):
        proc, base, startup = start_server({"TAGGER_MERGE_REQUESTS": batching, "TAGGER_WORKERS": str(args.workers)})
        cursor = 0  # the next sentence to send: text this server has not seen yet
        try:
            idle_rss = rss_mb(proc.pid)
            for concurrency, count in ((1, args.requests_serial), (32, args.requests)):
                runs = []
                for _ in range(args.repeats):
                    first = 0 if args.same_text else cursor
                    run = asyncio.run(drive(base, texts, concurrency, count, args.seconds, first))
                    cursor += run["requests"]
                    run["batching"] = batching == "true"
                    runs.append(run)
                    print(json.dumps(run))
                results["runs"] += runs
                # The median of each figure over the repeats (the machine is shared and noisy).
                summary = {k: statistics.median(r[k] for r in runs) for k in MEDIANS}
                summary.update(concurrency=concurrency, batching=batching == "true", repeats=len(runs))
                results["summary"].append(summary)
            results.setdefault("server", []).append(
                {
                    "batching": batching == "true",
                    "startup_to_ready_s": round(startup, 2),
                    "rss_idle_mb": round(idle_rss, 1),
                    "rss_peak_mb": round(rss_mb(proc.pid, "VmHWM"), 1),
                }
            )
            print(json.dumps(results["server"][-1]))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    by = {(r["batching"], r["concurrency"]): r for r in results["summary"]}
    results["speedup_at_32"] = round(by[(True, 32)]["requests_per_s"] / by[(False, 32)]["requests_per_s"], 2)
    out = ROOT / "benchmarks" / "results" / args.out
    results["environment"] = {k: v for k, v in os.environ.items() if k.startswith("TAGGER_")}
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"batching speed-up at concurrency 32: {results['speedup_at_32']}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
