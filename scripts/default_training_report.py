"""Summarise training runs made with the default recipe (no flags but the data, the
output and, where vectors exist, --embeddings): epochs run, where it stopped and why,
minutes, dev score. Writes benchmarks/results/default_training.json.

Usage: default_training_report.py NAME=RUN [NAME=RUN ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(pairs: list[str]) -> None:
    report = []
    for pair in pairs:
        name, _, run = pair.partition("=")
        metrics = json.loads((Path(run) / "metrics.json").read_text())
        config = json.loads((Path(run) / "config.json").read_text())
        history = metrics["history"]
        seconds = sum(h["train_seconds"] + h["dev_seconds"] for h in history)
        report.append(
            {
                "corpus": name,
                "command": metrics["data"]["command"],
                "epochs_run": len(history),
                "epoch_limit": config["train"]["epochs"],
                "best_epoch": metrics["best_epoch"],
                "stopped_early": len(history) < config["train"]["epochs"],
                "minutes": round(seconds / 60, 1),
                "dev": round(metrics["dev"]["main"], 4),
                "metric": "entity micro-F1" if metrics["task"] == "ner" else "token accuracy",
                "averaged_kept": bool((metrics.get("averaged") or {}).get("kept")),
                "torch_threads": metrics["torch_threads"],
            }
        )
        print(json.dumps(report[-1]))
    out = ROOT / "benchmarks" / "results" / "default_training.json"
    note = "minutes = training + dev evaluation as logged; runs were two at a time on 2 cores, one torch thread each"
    out.write_text(json.dumps({"note": note, "runs": report}, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
