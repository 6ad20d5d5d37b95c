"""What a batch costs each backend, and how the labeler's batching trades batches
against padding (``Runner.batch_overhead``, ``batching.token_budget_batches``).

1. Cost model: batches of B sentences all of length T (CoNLL-2003 train sentences, so
   no padding), encoded and scored by one model's network on ``--threads`` threads
   (default 1; the CRF decodes a whole call's batches at once, so it costs nothing per batch);
   the least-squares fit (on relative error) ``seconds = a + b * T + c * B * T`` gives
   the overhead of one more batch in tokens' worth (a / c) and of one more step (b / c).
2. Sweep: CoNLL-2003 dev sentences (gold tokens) labelled in chunks the size
   ``tagger tag`` makes (about 300 sentences), with the runner's ``batch_overhead`` set
   to each value in turn (``inf``: each batch filled to the budget before the next);
   tokens/s, batches and padded tokens per real token.

Usage: .venv/bin/python benchmarks/batch_cost.py [--backend onnx] [--threads 1] [--overheads 16,64,inf]
Writes benchmarks/results/batch_cost_<backend>[_threads<N>].json.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.corpus_text import DATA  # noqa: E402
from tagger import batching  # noqa: E402
from tagger.corpus import read_corpus  # noqa: E402
from tagger.device import set_threads  # noqa: E402
from tagger.labeler import Labeler  # noqa: E402

MODEL = ROOT / "models" / "ner-en-conll03"
CHUNK_SENTENCES = 300  # about what tagfiles.CHUNK_CHARS holds of CoNLL-2003 text


def cost_model(labeler: Labeler, train: list[list[str]], repeats: int) -> dict[str, Any]:
    (loaded,) = labeler.models.values()
    runner = labeler._runners[loaded.name]
    by_length: dict[int, list[list[str]]] = defaultdict(list)
    for sentence in train:
        by_length[len(sentence)].append(sentence)
    rng = random.Random(0)
    for steps in (5, 15, 30):  # fill the word cache first, as a running service has it
        runner.scores(by_length[steps][:256])
    rows = []
    for size in (1, 2, 4, 8, 16, 32, 64, 128):
        for steps in (5, 15, 30):
            batch = [rng.choice(by_length[steps]) for _ in range(size)]
            times = []
            for _ in range(max(repeats, 5)):
                started = time.perf_counter()
                runner.scores(batch)
                times.append(time.perf_counter() - started)
            rows.append((size, steps, statistics.median(times)))
    # Fitted on relative error (each row divided by its time), so the small batches,
    # where the overhead shows, weigh as much as the large ones.
    seconds = np.array([s for *_, s in rows])
    design = np.array([[1.0, t, b * t] for b, t, _ in rows]) / seconds[:, None]
    (a, b, c), *_ = np.linalg.lstsq(design, np.ones(len(rows)), rcond=None)
    return {
        "fit_seconds": {"per_batch": a, "per_step": b, "per_token": c},
        "batch_overhead_tokens": round(a / c, 1),
        "step_overhead_tokens": round(b / c, 2),
        "runs": [{"sentences": b, "length": t, "tokens_per_s": round(b * t / s)} for b, t, s in rows],
    }


class FixedOverhead:
    """A runner with its ``batch_overhead`` set from outside."""

    def __init__(self, runner: Any, overhead: float) -> None:
        self.runner, self.cache, self.batch_overhead = runner, runner.cache, overhead

    def scores(self, sentences: Any) -> Any:
        return self.runner.scores(sentences)

    @property
    def crf_scores(self) -> Any:
        return self.runner.crf_scores


def sweep(labeler: Labeler, dev: list[list[str]], overheads: list[float], repeats: int) -> list[dict[str, Any]]:
    (loaded,) = labeler.models.values()
    runner = labeler._runners[loaded.name]
    chunks = [dev[i : i + CHUNK_SENTENCES] for i in range(0, len(dev), CHUNK_SENTENCES)]
    tokens = sum(len(s) for s in dev)
    timings: dict[float, list[float]] = defaultdict(list)
    shape: dict[float, tuple[int, int]] = {}
    for _ in range(repeats):
        for overhead in overheads:  # in turns, so drift falls on every value alike
            labeler._runners[loaded.name] = FixedOverhead(runner, overhead)
            started = time.perf_counter()
            for chunk in chunks:
                labeler.label(chunk)
            timings[overhead].append(time.perf_counter() - started)
            batches = [
                [len(chunk[i]) for i in b]
                for chunk in chunks
                for b in batching.token_budget_batches(
                    [len(s) for s in chunk], labeler.batch_tokens, batch_overhead=overhead
                )
            ]
            shape[overhead] = (len(batches), sum(len(b) * max(b) for b in batches))
    return [
        {
            "batch_overhead": "inf" if o == float("inf") else o,
            "tokens_per_s": round(tokens / statistics.median(timings[o])),
            "batches": shape[o][0],
            "padded_per_real_token": round(shape[o][1] / tokens, 3),
        }
        for o in overheads
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="onnx", choices=["torch", "onnx", "onnx-int8"])
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--overheads", default="0,16,64,256,512,2048,inf")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="inference threads")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    set_threads(args.threads)
    labeler = Labeler.load(args.model, device="cpu", backend=args.backend)
    train = [s.tokens for s in read_corpus(args.data / "conll2003" / "train.txt")]
    dev = [s.tokens for s in read_corpus(args.data / "conll2003" / "valid.txt")]
    overheads = [float(o) for o in args.overheads.split(",")]
    report = {
        "backend": args.backend,
        "model": args.model.name,
        "threads": args.threads,
        "cost_model": cost_model(labeler, train, args.repeats),
        "sweep": sweep(labeler, dev, overheads, args.repeats),
    }
    name = f"batch_cost_{args.backend}" + (f"_threads{args.threads}" if args.threads != 1 else "")
    out = args.out or ROOT / "benchmarks" / "results" / f"{name}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(
        json.dumps(
            {k: v for k, v in report.items() if k != "cost_model"}
            | {"batch_overhead_tokens": report["cost_model"]["batch_overhead_tokens"]},
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
