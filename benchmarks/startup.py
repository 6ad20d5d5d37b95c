"""Start-up: where the time of a short ``tagger tag`` goes, and how soon the server is
ready.

Each figure is the median of ``--repeats`` fresh processes (the page cache warm, as on a
machine that has run the command before):

- ``tagger tag`` on an empty input and on one sentence (start to exit, the shipped
  models, and NER only), on each backend (``--backends``, default torch and onnx: the
  onnx backend never imports torch);
- its parts: the interpreter alone, importing the CLI (``tagger.cli``: pydantic, the
  tokenizer's tables), ``import torch`` (torch backend) and loading the models
  (``Tagger.load``), each timed inside one process;
- ``tagger serve`` from start to the first ``/ready`` answering 200, on each backend.

Usage: .venv/bin/python benchmarks/startup.py [--repeats 7]
Writes benchmarks/results/startup.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.serve_load import start_server  # noqa: E402

NER = str(ROOT / "models" / "ner-en-conll03")
PARTS = """
import time, sys
t0 = time.perf_counter(); import tagger.cli; t1 = time.perf_counter()
if sys.argv[1] == "torch":
    import torch
t2 = time.perf_counter()
from tagger.pipeline import Tagger
from tagger.resources import default_model_paths
Tagger.load([str(p) for p in default_model_paths()], device="cpu", backend=sys.argv[1]); t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""
PART_NAMES = ("import tagger.cli", "import torch", "Tagger.load, shipped models")


def seconds(command: list[str], stdin: str = "") -> float:
    started = time.perf_counter()
    subprocess.run(command, input=stdin, text=True, check=True, cwd=ROOT, capture_output=True)
    return time.perf_counter() - started


def server_ready_seconds(backend: str) -> float:
    proc, _, seconds = start_server({"TAGGER_BACKEND": backend}, ready_checks=1)
    proc.terminate()
    proc.wait(10)
    return seconds


def summary(runs: list[float]) -> dict[str, Any]:
    return {"median_s": round(statistics.median(runs), 3), "runs": [round(r, 3) for r in runs]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--backends", default="torch,onnx", help="comma-separated: torch, onnx, onnx-int8")
    parser.add_argument("--out", default="startup.json", help="file name under benchmarks/results")
    args = parser.parse_args()
    backends = args.backends.split(",")
    py = sys.executable
    settings: dict[str, tuple[list[str], str]] = {"python -c pass": ([py, "-c", "pass"], "")}
    for backend in backends:
        tag = [py, "-m", "tagger", "tag", "-", "--quiet", "--backend", backend]
        settings[f"{backend}: tagger tag, empty input, shipped models"] = (tag, "")
        settings[f"{backend}: tagger tag, empty input, NER only"] = ([*tag, "--model", NER], "")
        settings[f"{backend}: tagger tag, one sentence, shipped models"] = (tag, "Angela Merkel visited Paris.\n")
    runs: dict[str, list[float]] = {name: [] for name in settings}
    parts: dict[str, list[list[float]]] = {b: [] for b in backends}
    ready: dict[str, list[float]] = {b: [] for b in backends}
    with tempfile.TemporaryDirectory():
        for _ in range(args.repeats):  # the settings take turns, so noise hits all alike
            for name, (command, stdin) in settings.items():
                runs[name].append(seconds(command, stdin))
            for backend in backends:
                command = [py, "-c", PARTS, backend]
                done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
                parts[backend].append([float(x) for x in done.stdout.split()])
                ready[backend].append(server_ready_seconds(backend))
    report: dict[str, Any] = {"cpu_count": os.cpu_count()}
    report.update({name: summary(r) for name, r in runs.items()})
    for backend in backends:
        for i, name in enumerate(PART_NAMES):
            report[f"{backend}: part: {name}"] = summary([p[i] for p in parts[backend]])
        report[f"{backend}: tagger serve to the first 200 from /ready"] = summary(ready[backend])
    print(json.dumps(report, indent=2))
    (ROOT / "benchmarks" / "results" / args.out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
