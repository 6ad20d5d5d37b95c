"""Soak test: the real server under mixed load for a long time; throughput, latency and
errors per minute, and the server's resident memory over time.

Concurrency 32 by default, each client sending its next request when the last is
answered, cycling through four request shapes drawn from CoNLL-2003 dev (detokenized):
one sentence, a paragraph of five sentences, a batch of eight texts, and a document of
about 1,500 tokens. RSS (server and children) is sampled every 5 s; the summary gives
the growth after warm-up (the first minute) and the peak, which with the settings
used is the memory ceiling to plan for.

Usage: .venv/bin/python benchmarks/soak.py [--minutes 10] [--concurrency 32]
Writes benchmarks/results/soak.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.adversarial import start_server, stop  # noqa: E402
from benchmarks.corpus_text import DATA, conll_dev_text  # noqa: E402
from benchmarks.serve_load import rss_mb  # noqa: E402


def request_shapes(texts: list[str], rng: random.Random) -> list[dict[str, Any]]:
    """A cycle of bodies: sentence, paragraph, batch of texts, long document."""
    bodies: list[dict[str, Any]] = []
    for _ in range(200):
        bodies.append({"text": rng.choice(texts)})
        bodies.append({"text": " ".join(rng.sample(texts, 5))})
        bodies.append({"texts": rng.sample(texts, 8)})
        document, tokens = [], 0
        while tokens < 1500:
            sentence = rng.choice(texts)
            document.append(sentence)
            tokens += len(sentence.split()) + 2
        bodies.append({"text": " ".join(document)})
    return bodies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def drive(base: str, bodies: list[dict[str, Any]], concurrency: int, seconds: float, pid: int) -> dict[str, Any]:
    started = time.monotonic()
    per_minute: dict[int, list[float]] = {}
    errors: dict[int, int] = {}
    rss: list[tuple[float, float]] = []
    position = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as client:

        async def worker() -> None:
            nonlocal position
            while time.monotonic() - started < seconds:
                body = bodies[position % len(bodies)]
                position += 1
                t0 = time.monotonic()
                minute = int((t0 - started) // 60)
                try:
                    async with client.post("/tag", json=body) as r:
                        await r.read()
                        ok = r.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                per_minute.setdefault(minute, []).append(time.monotonic() - t0)
                if not ok:
                    errors[minute] = errors.get(minute, 0) + 1

        async def sample() -> None:
            while time.monotonic() - started < seconds:
                rss.append((round(time.monotonic() - started, 1), round(rss_mb(pid), 1)))
                await asyncio.sleep(5)

        await asyncio.gather(sample(), *(worker() for _ in range(concurrency)))
    minutes = [
        {
            "minute": m + 1,
            "requests": len(lat),
            "requests_per_s": round(len(lat) / 60, 1),
            "p50_ms": round(1000 * statistics.median(lat), 1),
            "p99_ms": round(1000 * percentile(lat, 0.99), 1),
            "errors": errors.get(m, 0),
        }
        for m, lat in sorted(per_minute.items())
    ]
    after_warmup = [r for t, r in rss if t >= 60] or [r for _, r in rss]
    return {
        "minutes": minutes,
        "rss_mb": rss,
        "rss_start_mb": rss[0][1] if rss else None,
        "rss_after_warmup_mb": after_warmup[0],
        "rss_end_mb": rss[-1][1] if rss else None,
        "rss_peak_mb": max(r for _, r in rss) if rss else None,
        "growth_after_warmup_pct": round(100 * (after_warmup[-1] - after_warmup[0]) / after_warmup[0], 1),
        "errors": sum(errors.values()),
        "requests": sum(len(v) for v in per_minute.values()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", default="soak.json")
    args = parser.parse_args()
    texts = [s.text for s in conll_dev_text(args.data) if len(s.tokens) >= 5]
    bodies = request_shapes(texts, random.Random(0))
    proc, base = start_server({})
    try:
        result = asyncio.run(drive(base, bodies, args.concurrency, args.minutes * 60, proc.pid))
    finally:
        stop(proc)
    result |= {"concurrency": args.concurrency, "seconds": args.minutes * 60}
    (ROOT / "benchmarks" / "results" / args.out).write_text(json.dumps(result, indent=2) + "\n")
    for row in result["minutes"]:
        print(row)
    keys = ("requests", "errors", "rss_start_mb", "rss_after_warmup_mb", "rss_end_mb", "rss_peak_mb")
    print({k: result[k] for k in (*keys, "growth_after_warmup_pct")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
