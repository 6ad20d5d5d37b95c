"""Open-loop load: requests arrive at a fixed mean rate (Poisson), whatever the answers.

``serve_load.py`` drives the server with a fixed number of clients, each sending its
next request when the last is answered (a closed loop), which is where gathering
concurrent requests into one pass pays most. Real traffic is closer to independent
arrivals; this benchmark checks what the gathering policy costs or gains there, by
running the same arrival schedule against the server with gathering on (the default)
and off (``TAGGER_MAX_WAIT_MS=0``: a pass takes what is queued), settings interleaved.

Usage: .venv/bin/python benchmarks/serve_open_loop.py [--rates 100,300,500] [--seconds 10] [--repeats 2]
Writes benchmarks/results/serve_open_loop.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.corpus_text import DATA, conll_dev_text  # noqa: E402
from benchmarks.serve_load import latency_ms, start_server  # noqa: E402

SETTINGS = {"gathering": {}, "no gathering": {"TAGGER_MAX_WAIT_MS": "0"}}


async def drive_open(base: str, texts: list[str], rate: float, seconds: float, seed: int) -> dict[str, Any]:
    """Send one-sentence requests at exponentially distributed intervals for ``seconds``."""
    rng = random.Random(seed)
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(base, connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as client:

        async def one(text: str) -> None:
            nonlocal errors
            t0 = time.perf_counter()
            async with client.post("/tag", json={"text": text}) as r:
                await r.read()
            latencies.append(time.perf_counter() - t0)
            errors += r.status != 200

        tasks = []
        started = time.perf_counter()
        due = started
        i = 0
        while due - started < seconds:
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(texts[i % len(texts)])))
            i += 1
            due += rng.expovariate(rate)
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    return {
        "rate": rate,
        "requests": len(latencies),
        "errors": errors,
        "achieved_per_s": round(len(latencies) / elapsed, 1),
    } | latency_ms(latencies)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="100,300,500", help="mean arrivals per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=10, help="length of one run")
    parser.add_argument("--repeats", type=int, default=2, help="runs per rate and setting; medians are reported")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    texts = [s.text for s in conll_dev_text(args.data) if len(s.tokens) >= 5]
    rates = [float(r) for r in args.rates.split(",")]
    servers = {name: start_server(env)[:2] for name, env in SETTINGS.items()}
    runs: list[dict[str, Any]] = []
    try:
        for repeat in range(args.repeats):
            for rate in rates:
                for name, (_, base) in servers.items():  # interleaved: both see the same minutes
                    run = asyncio.run(drive_open(base, texts, rate, args.seconds, seed=repeat))
                    run["setting"] = name
                    runs.append(run)
                    print(json.dumps(run))
    finally:
        for proc, _ in servers.values():
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    summary = []
    for rate in rates:
        for name in SETTINGS:
            mine = [r for r in runs if r["rate"] == rate and r["setting"] == name]
            summary.append(
                {"rate": rate, "setting": name}
                | {k: statistics.median(r[k] for r in mine) for k in ("achieved_per_s", "p50_ms", "p99_ms")}
            )
    out = ROOT / "benchmarks" / "results" / "serve_open_loop.json"
    out.write_text(json.dumps({"runs": runs, "summary": summary}, indent=2) + "\n")
    for row in summary:
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
