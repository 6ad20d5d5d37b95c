"""Copy the shipped seed's model directory into models/ and record every seed's dev score.

Usage: collect_seeds.py SHIPPED_RUN TARGET_DIR RUN [RUN ...]
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import torch

from tagger import checkpoint
from tagger.card import write_card
from tagger.checkpoint import write_json
from tagger.evaluate import evaluate
from tagger.labeler import Labeler
from tagger.train import load_data

SHIPPED_FILES = ("config.json", "vocab.json", "model.safetensors", "metrics.json", "training_curves.png")


def main(shipped: str, target: str, runs: list[str]) -> None:
    seeds = []
    for run in sorted(runs):
        metrics = json.loads((Path(run) / "metrics.json").read_text())
        if "dev" not in metrics:
            print(f"skipping {run}: not finished", file=sys.stderr)
            continue
        seeds.append({"seed": metrics["seed"], "dev_main": metrics["dev"]["main"], "best_epoch": metrics["best_epoch"]})
    out = Path(target)
    out.mkdir(parents=True, exist_ok=True)
    for name in SHIPPED_FILES:
        shutil.copy2(Path(shipped) / name, out / name)
    for path in out.iterdir():
        path.chmod(0o644)
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["seeds"] = sorted(seeds, key=lambda s: s["seed"])
    # Score the shipped files with the current inference code, so the card is exactly
    # what `tagger evaluate` prints (training scored them with the code of its day).
    loaded = checkpoint.load(out)
    dev = load_data(metrics["data"]["dev"], loaded.config)
    metrics["dev_at_training"] = metrics["dev"]["main"]
    metrics["dev"] = evaluate(Labeler([loaded], torch.device("cpu")), loaded.name, dev)
    write_json(out / "metrics.json", metrics)
    write_card(out)
    print(f"{target}: shipped {shipped}; seeds {[round(s['dev_main'], 4) for s in seeds]}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
