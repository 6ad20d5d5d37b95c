"""Wall time per training epoch of a shipped model's configuration on this machine.

Retrains the configuration in ``MODEL/config.json`` for a few epochs on its training
file (nothing is shipped; output goes to a temporary directory) with all cores, and
records the per-epoch training time (dev evaluation excluded) in
``benchmarks/results/epoch_time_<model>.json``. It never writes into the model
directory: shipped models change only by retraining them.

Usage: .venv/bin/python benchmarks/epoch_time.py models/ner-en-conll03 [--epochs 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tagger.config import Config  # noqa: E402
from tagger.device import set_threads  # noqa: E402
from tagger.train import train  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    saved = json.loads((args.model / "config.json").read_text())
    metrics = json.loads((args.model / "metrics.json").read_text())
    config = Config.from_dict({k: saved[k] for k in ("model", "train", "data")})
    config.train.epochs = args.epochs
    config.train.patience = args.epochs
    config.train.threads = args.threads
    config.train.holdout_share = 0.0  # an epoch over the whole training file
    data = metrics["data"]
    set_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        result = train(
            data["train"],
            data["dev"],
            Path(tmp) / "m",
            config,
            data["embeddings"] or None,
            log=lambda _: None,
            progress=False,
        )
    seconds = [h["train_seconds"] for h in result.history]
    summary = {
        "model": args.model.name,
        "threads": args.threads,
        "epoch_seconds": seconds,
        "median_seconds": statistics.median(seconds),
    }
    out = ROOT / "benchmarks" / "results" / f"epoch_time_{args.model.name}.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
