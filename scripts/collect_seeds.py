"""Copy the shipped seed's model directory into models/ and record every seed's dev score.

Usage: collect_seeds.py SHIPPED_RUN TARGET_DIR RUN [RUN ...]
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from tagger.card import write_card
from tagger.checkpoint import write_json

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
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["seeds"] = sorted(seeds, key=lambda s: s["seed"])
    write_json(out / "metrics.json", metrics)
    write_card(out)
    print(f"{target}: shipped {shipped}; seeds {[round(s['dev_main'], 4) for s in seeds]}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
