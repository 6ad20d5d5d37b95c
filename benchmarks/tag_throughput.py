"""Throughput of ``tagger tag`` on raw text, and its peak memory on a large input.

The input is CoNLL-2003 dev detokenized to one raw sentence per line (the ``lines``
format). Each setting runs the real command in a fresh process; tokens/s is the
command's own count over its tagging time (model loading excluded), median of
``--repeats`` runs. Peak RSS comes from ``getrusage`` of the child.

Usage: .venv/bin/python benchmarks/tag_throughput.py [--repeats 3] [--big-mb 100]
Writes benchmarks/results/tag_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.corpus_text import DATA, conll_dev_text  # noqa: E402

MODELS = ROOT / "models"
PEAK_RSS = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)
SUMMARY = re.compile(r"tagged (\d+) documents, (\d+) tokens in ([\d.]+)s")


def run_tag(input_path: Path, models: list[str], extra: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "tagger", "tag", str(input_path), "--input-format", "lines", "-o", "/dev/null"]
    # -o /dev/null: the output format's cost is included (JSONL is built), the disk is not.
    for m in models:
        cmd += ["--model", str(MODELS / m)]
    # A wrapper process reports the peak RSS of its only child, the tag command.
    wrapper = [sys.executable, "-c", PEAK_RSS]
    started = time.perf_counter()
    done = subprocess.run(wrapper + cmd + extra, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    match = SUMMARY.search(done.stderr)
    if match is None:
        raise RuntimeError(done.stderr)
    docs, tokens, seconds = int(match[1]), int(match[2]), float(match[3])
    peak_kb = int(done.stdout.strip().splitlines()[-1])
    return {
        "documents": docs,
        "tokens": tokens,
        "tag_seconds": seconds,
        "wall_seconds": round(wall, 2),
        "tokens_per_s": round(tokens / seconds),
        "peak_rss_mb": round(peak_kb / 1024, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--big-mb", type=float, default=100, help="size of the memory test input; 0 skips it")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    texts = [s.text for s in conll_dev_text(args.data)]
    results: dict[str, Any] = {"device": args.device, "settings": []}
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "conll03-dev.txt"
        small.write_text("\n".join(texts) + "\n", encoding="utf-8")
        for models in (["ner-en-conll03"], ["ner-en-conll03", "pos-en-ewt"]):
            runs = [run_tag(small, models, ["--device", args.device]) for _ in range(args.repeats)]
            rates = [r["tokens_per_s"] for r in runs]
            setting = {
                "models": models,
                "tokens": runs[0]["tokens"],
                "tokens_per_s_median": statistics.median(rates),
                "tokens_per_s_runs": rates,
            }
            results["settings"].append(setting)
            print(json.dumps(setting))
        if args.big_mb > 0:
            big = Path(tmp) / "big.txt"
            block = small.read_bytes()
            with big.open("wb") as fh:
                for _ in range(max(1, int(args.big_mb * 1e6 / len(block)))):
                    fh.write(block)
            size_mb = big.stat().st_size / 1e6
            peaks = {}
            for label, path in (("small", small), ("big", big)):
                run = run_tag(path, ["ner-en-conll03"], ["--device", args.device])
                peaks[label] = run
            results["memory"] = {
                "big_input_mb": round(size_mb, 1),
                "small_input_mb": round(small.stat().st_size / 1e6, 2),
                "small": peaks["small"],
                "big": peaks["big"],
            }
            print(json.dumps(results["memory"]))
    out = ROOT / "benchmarks" / "results" / f"tag_throughput_{args.device.replace(':', '')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
