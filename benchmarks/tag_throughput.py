"""Throughput of ``tagger tag`` on raw text, and its peak memory on a large input.

The input is CoNLL-2003 dev detokenized to one raw sentence per line (the ``lines``
format). Each setting runs the real command in a fresh process; tokens/s is the
command's own count over its tagging time (model loading excluded), median of
``--repeats`` runs, with ``--workers`` at its default (one process per core) and at 1
(in-process). Peak memory is sampled over the command's process tree: PSS (forked
workers share the model's pages, PSS counts them once) and the sum of RSS.

Usage: .venv/bin/python benchmarks/tag_throughput.py [--repeats 5] [--big-mb 100]
Writes benchmarks/results/tag_throughput_<device>.json.
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
from benchmarks.processes import process_tree  # noqa: E402

MODELS = ROOT / "models"
SUMMARY = re.compile(r"tagged (\d+) documents, (\d+) tokens in ([\d.]+)s \(([\d,]+) tokens/s\)")


def _memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of a process in kB; PSS splits pages shared with forked workers."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pass  # the process just ended
    return rss, pss


def run_tag(input_path: Path, models: list[str], extra: list[str]) -> dict[str, Any]:
    """One run of the command; memory is sampled every 0.1 s over its process tree."""
    cmd = [sys.executable, "-m", "tagger", "tag", str(input_path), "--input-format", "lines", "-o", "/dev/null"]
    # -o /dev/null: the output format's cost is included (JSONL is built), the disk is not.
    for m in models:
        cmd += ["--model", str(MODELS / m)]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd + extra, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak_rss = peak_pss = peak_one = processes = 0
    while proc.poll() is None:
        tree = process_tree(proc.pid)
        sizes = [_memory_kb(p) for p in tree]
        processes = max(processes, len(tree))
        peak_rss = max(peak_rss, sum(r for r, _ in sizes))
        peak_pss = max(peak_pss, sum(p for _, p in sizes))
        peak_one = max(peak_one, max(r for r, _ in sizes))
        time.sleep(0.1)
    stderr = proc.stderr.read() if proc.stderr else ""
    wall = time.perf_counter() - started
    match = SUMMARY.search(stderr)
    if proc.returncode != 0 or match is None:
        raise RuntimeError(stderr)
    docs, tokens, seconds = int(match[1]), int(match[2]), float(match[3])
    return {
        "documents": docs,
        "tokens": tokens,
        "tag_seconds": seconds,
        "wall_seconds": round(wall, 2),
        "tokens_per_s": int(match[4].replace(",", "")),  # the command's unrounded rate
        "processes": processes,
        "peak_pss_total_mb": round(peak_pss / 1024, 1),
        "peak_rss_total_mb": round(peak_rss / 1024, 1),
        "peak_rss_largest_process_mb": round(peak_one / 1024, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--big-mb", type=float, default=100, help="size of the memory test input; 0 skips it")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--backends", default="auto", help="comma-separated: auto, torch, onnx")
    parser.add_argument("--out", help="file name under benchmarks/results (default tag_throughput_<device>.json)")
    args = parser.parse_args()
    backends = args.backends.split(",")
    texts = [s.text for s in conll_dev_text(args.data)]
    results: dict[str, Any] = {"device": args.device, "settings": []}
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "conll03-dev.txt"
        small.write_text("\n".join(texts) + "\n", encoding="utf-8")
        model_sets = (["ner-en-conll03"], ["ner-en-conll03", "pos-en-ewt"])
        settings = [(m, w, b) for b in backends for m in model_sets for w in (0, 1)]
        # The settings take turns, so a burst of noise on the shared machine hits all alike.
        rates_by: dict[int, list[int]] = {i: [] for i in range(len(settings))}
        for _ in range(args.repeats):
            for i, (models, workers, backend) in enumerate(settings):
                flags = ["--device", args.device, "--workers", str(workers)]
                run = run_tag(small, models, flags + ([] if backend == "auto" else ["--backend", backend]))
                rates_by[i].append(run["tokens_per_s"])
                tokens = run["tokens"]
        for i, (models, workers, backend) in enumerate(settings):
            rates = rates_by[i]
            setting = {
                "backend": backend,
                "models": models,
                "workers": workers or "default (one per core)",
                "tokens": tokens,
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
    out = ROOT / "benchmarks" / "results" / (args.out or f"tag_throughput_{args.device.replace(':', '')}.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
