"""Scores of model directories on each inference backend: dev as given, lower-cased and
upper-cased, and the held-out slice of train where the model kept one (the checks a
model card reports), so that a backend's tolerance is measured where the card is.

Usage: .venv/bin/python benchmarks/backend_accuracy.py MODEL_DIR ... [--backends onnx,onnx-int8]
Writes benchmarks/results/backend_accuracy.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tagger import checkpoint  # noqa: E402
from tagger.device import set_threads  # noqa: E402
from tagger.evaluate import evaluate  # noqa: E402
from tagger.labeler import Labeler  # noqa: E402
from tagger.train import load_data, split_holdout  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--backends", default="onnx,onnx-int8")
    parser.add_argument("--out", default="backend_accuracy.json")
    args = parser.parse_args()
    set_threads(1)
    report: dict[str, Any] = {}
    for directory in args.models:
        loaded = checkpoint.load(directory)
        data, train = loaded.metrics["data"], loaded.config.train
        dev = load_data(data["dev"], loaded.config)
        held_out = (
            split_holdout(load_data(data["train"], loaded.config), train.holdout_share)[1]
            if train.holdout_share > 0
            else []
        )
        for backend in args.backends.split(","):
            labeler = Labeler.load(directory, device="cpu", backend=backend)  # type: ignore[arg-type]
            scores = {
                casing: evaluate(labeler, loaded.name, dev, casing)["main"] for casing in ("as-is", "lower", "upper")
            }  # type: ignore[arg-type]
            if held_out:
                scores["held-out slice"] = evaluate(labeler, loaded.name, held_out)["main"]
            report[f"{directory} {backend}"] = scores
            print(json.dumps({f"{directory} {backend}": scores}), flush=True)
    (ROOT / "benchmarks" / "results" / args.out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
