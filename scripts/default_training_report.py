"""Summarise training runs made with the default recipe (no flags but the data, the
output and, where vectors exist, --embeddings): epochs run, where it stopped and why,
minutes, dev score. Writes benchmarks/results/default_training.json.

Usage: default_training_report.py [--keep-earlier] NAME=RUN [NAME=RUN ...]

--keep-earlier keeps the rows of the existing report whose corpus is not named here
(their runs may be gone); a named corpus replaces its earlier row in place.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def merge(earlier: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Earlier rows in their order, each replaced by the new row of its corpus; new corpora last."""
    by_corpus = {row["corpus"]: row for row in new}
    merged = [by_corpus.pop(row["corpus"], row) for row in earlier]
    return merged + list(by_corpus.values())


def main(pairs: list[str]) -> None:
    keep_earlier = "--keep-earlier" in pairs
    pairs = [pair for pair in pairs if pair != "--keep-earlier"]
    report: list[dict[str, Any]] = []
    for pair in pairs:
        name, _, run = pair.partition("=")
        metrics = json.loads((Path(run) / "metrics.json").read_text())
        config = json.loads((Path(run) / "config.json").read_text())
        history = metrics["history"]
        seconds = sum(h["train_seconds"] + h["dev_seconds"] for h in history)
        # Runs were paused (SIGSTOP) during quiet benchmark windows; such an epoch shows
        # as many times the others and is counted as the median epoch instead.
        typical = statistics.median(h["train_seconds"] for h in history)
        unpaused = sum(
            (h["train_seconds"] if h["train_seconds"] <= 3 * typical else typical) + h["dev_seconds"] for h in history
        )
        report.append(
            {
                "corpus": name,
                "command": metrics["data"]["command"],
                "epochs_run": len(history),
                "epoch_limit": config["train"]["epochs"],
                "best_epoch": metrics["best_epoch"],
                "stopped_early": len(history) < config["train"]["epochs"],
                "minutes": round(seconds / 60, 1),
                "minutes_without_pauses": round(unpaused / 60, 1),
                "dev": round(metrics["dev"]["main"], 4),
                "metric": "entity micro-F1" if metrics["task"] == "ner" else "token accuracy",
                "averaged_kept": bool((metrics.get("averaged") or {}).get("kept")),
                "torch_threads": metrics["torch_threads"],
            }
        )
        print(json.dumps(report[-1]))
    out = ROOT / "benchmarks" / "results" / "default_training.json"
    if keep_earlier and out.exists():
        report = merge(json.loads(out.read_text())["runs"], report)
    note = (
        "minutes = training + dev evaluation as logged; runs were two at a time on 2 cores, one torch thread each; "
        "minutes_without_pauses counts an epoch of more than 3x the median (a run paused for a benchmark) as the median"
    )
    out.write_text(json.dumps({"note": note, "runs": report}, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
