"""Inference backends side by side on the dev sets: labels against the float torch
model, dev score, and labelling speed in-process (gold tokens, no tokenizer).

Backends: ``torch`` (eager), ``onnx`` (the model directory's recurrent.onnx under ONNX
Runtime) and ``onnx-int8`` (recurrent-int8.onnx: the same graph with ONNX Runtime's
dynamic int8 quantization of its weights); ``tagger export-onnx`` makes both. Each
backend runs at each thread count ``--repeats`` times, in turns; the medians are
reported.

Usage: .venv/bin/python benchmarks/backends.py [MODEL_DIR ...] [--threads 1,2] [--repeats 3]
Writes benchmarks/results/backends.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from benchmarks.machine import cpu_name  # noqa: E402
from tagger import checkpoint  # noqa: E402
from tagger.evaluate import evaluate  # noqa: E402
from tagger.labeler import Labeler  # noqa: E402
from tagger.train import load_data  # noqa: E402

DEFAULT_MODELS = [ROOT / "models" / "ner-en-conll03", ROOT / "models" / "pos-en-ewt"]


def labeler_for(model_dir: Path, backend: str) -> Labeler:
    return Labeler.load(model_dir, device="cpu", backend=backend)  # type: ignore[arg-type]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, default=DEFAULT_MODELS)
    parser.add_argument("--backends", default="torch,onnx,onnx-int8")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="backends.json")
    args = parser.parse_args()
    backends = args.backends.split(",")
    thread_counts = [int(t) for t in args.threads.split(",")]
    report: dict[str, Any] = {"cpu": cpu_name(), "models": []}
    for model_dir in args.models:
        loaded = checkpoint.load(model_dir)
        dev = load_data(loaded.metrics["data"]["dev"], loaded.config)
        tokens = [s.tokens for s in dev]
        documents = [s.document for s in dev]
        count = sum(len(t) for t in tokens)
        labelers = {b: labeler_for(model_dir, b) for b in backends}
        name = loaded.name
        reference = labelers[backends[0]].label(tokens, documents=documents)[name]
        rows: dict[str, Any] = {}
        for backend, labeler in labelers.items():
            got = labeler.label(tokens, documents=documents)[name]
            differ = sum(
                a.label != b.label for x, y in zip(reference, got, strict=True) for a, b in zip(x, y, strict=True)
            )
            rows[backend] = {
                "dev_score": evaluate(labeler, name, dev)["main"],
                f"tokens_labelled_unlike_{backends[0]}": differ,
                "tokens_per_s": {},
            }
        for threads in thread_counts:
            torch.set_num_threads(threads)
            rates: dict[str, list[float]] = {b: [] for b in backends}
            for _ in range(args.repeats):
                for backend, labeler in labelers.items():  # in turns: noise hits all alike
                    started = time.perf_counter()
                    labeler.label(tokens, documents=documents)
                    rates[backend].append(count / (time.perf_counter() - started))
            for backend in backends:
                rows[backend]["tokens_per_s"][f"{threads} threads"] = {
                    "median": round(statistics.median(rates[backend])),
                    "runs": [round(r) for r in rates[backend]],
                }
        entry = {"model": name, "dev_file": loaded.metrics["data"]["dev"], "tokens": count, "backends": rows}
        report["models"].append(entry)
        print(json.dumps(entry))
    out = ROOT / "benchmarks" / "results" / args.out
    out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
