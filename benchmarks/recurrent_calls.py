"""ONNX Runtime alone on the recurrent exports: batched against one sentence per call.

The labeler's batches for CoNLL-2003 dev (detokenized, in ``tagger tag``'s chunks, on the
float backend's batching) are captured as the features and lengths it hands ONNX Runtime,
then replayed on ``recurrent.onnx`` and ``recurrent-int8.onnx``, each batched and one
sentence per call, on one thread; median of ``--repeats`` passes. It also counts how
each way's scores depend on the batch: labels (argmax of the scores) and the largest
score change (emission scores, before the CRF) between a sentence run batched and alone.

This is what chose how the int8 backend runs (``portable.OnnxSession``): batched, int8
scores move with the batch; alone they cannot, and must still beat the float batches.

Usage: .venv/bin/python benchmarks/recurrent_calls.py [MODEL_DIR] [--repeats 5]
Writes benchmarks/results/recurrent_calls.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.corpus_text import DATA, conll_dev_text  # noqa: E402
from benchmarks.machine import cpu_name  # noqa: E402
from tagger import portable  # noqa: E402
from tagger.device import set_threads  # noqa: E402
from tagger.pipeline import Tagger, prepare  # noqa: E402
from tagger.tagfiles import CHUNK_CHARS  # noqa: E402

Batch = tuple[np.ndarray, np.ndarray]  # features (B, T, D) float32, lengths (B,) int64


def captured_batches(model: Path, data: Path) -> list[Batch]:
    """What the float backend's labeler sends ONNX Runtime for dev, chunk by chunk."""
    tagger = Tagger.load([model], device="cpu", backend="onnx")
    batches: list[Batch] = []
    run = portable.OnnxSession.__call__

    def capture(session: portable.OnnxSession, features: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        batches.append((np.ascontiguousarray(features, dtype=np.float32), lengths.astype(np.int64)))
        return run(session, features, lengths)

    portable.OnnxSession.__call__ = capture  # type: ignore[method-assign,assignment]
    try:
        chunk: list[str] = []
        for text in [s.text for s in conll_dev_text(data)] + [""]:
            if sum(map(len, chunk)) >= CHUNK_CHARS or not text:
                tagger.label_prepared([prepare(t) for t in chunk])
                chunk = []
            chunk.append(text)
    finally:
        portable.OnnxSession.__call__ = run  # type: ignore[method-assign]
    return batches


def session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def batched(run: Any, batches: list[Batch]) -> list[np.ndarray]:
    """Scores of each sentence (T_i, K), its batch run in one call."""
    out = []
    for features, lengths in batches:
        scores = run(None, {"features": features, "lengths": lengths})[0]  # (B, T, K)
        out += [scores[i, :n] for i, n in enumerate(lengths.tolist())]
    return out


def alone(run: Any, batches: list[Batch]) -> list[np.ndarray]:
    """Scores of each sentence (T_i, K), one call per sentence."""
    return [
        run(None, {"features": features[i : i + 1, :n], "lengths": lengths[i : i + 1]})[0][0]
        for features, lengths in batches
        for i, n in enumerate(lengths.tolist())
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path, default=ROOT / "models" / "ner-en-conll03")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", default="recurrent_calls.json")
    args = parser.parse_args()
    set_threads(1)
    batches = captured_batches(args.model, args.data)
    tokens = int(sum(lengths.sum() for _, lengths in batches))
    report: dict[str, Any] = {"cpu": cpu_name(), "model": args.model.name, "batches": len(batches), "tokens": tokens}
    for file in (portable.ONNX_FILE, portable.INT8_FILE):
        run = session(args.model / file).run
        scores = {}
        for way, call in (("batched", batched), ("one sentence per call", alone)):
            seconds = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                scores[way] = call(run, batches)
                seconds.append(time.perf_counter() - started)
            report[f"{file}, {way}"] = {
                "seconds_median": round(statistics.median(seconds), 3),
                "tokens_per_s": round(tokens / statistics.median(seconds)),
            }
        pairs = list(zip(scores["batched"], scores["one sentence per call"], strict=True))
        report[f"{file}, batched against alone"] = {
            "labels_unlike": int(sum((a.argmax(1) != b.argmax(1)).sum() for a, b in pairs)),
            "largest_score_change": float(max(np.abs(a - b).max() for a, b in pairs)),
        }
        print(json.dumps({k: v for k, v in report.items() if k.startswith(file)}))
    out = ROOT / "benchmarks" / "results" / args.out
    out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
