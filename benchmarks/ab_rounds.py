"""Alternating rounds over checkouts, the harness of ``chunk_ab.py`` and ``tag_ab.py``.

A shared 2-core machine drifts by the minute, more than most changes move a figure, so
each round measures every checkout once, back to back, and the report gives each
checkout's median over rounds and its ratio to the first checkout's in every round:
drift moves both sides of a round together.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.corpus_text import DATA, conll_dev_text
from benchmarks.machine import commit, cpu_name

ROOT = Path(__file__).resolve().parent.parent


def checkouts_and_this(given: list[Path] | None) -> list[Path]:
    """The checkouts given on the command line, this one last (added if not given)."""
    checkouts = [c.resolve() for c in given or []]
    return checkouts if ROOT in checkouts else [*checkouts, ROOT]


@contextmanager
def dev_text(times: int, data: Path | None = None) -> Iterator[Path]:
    """A temporary file of CoNLL-2003 dev detokenized, one sentence a line, ``times`` copies."""
    lines = [s.text for s in conll_dev_text(data or DATA)]
    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp) / "dev.txt"
        text.write_text("\n".join(lines * times) + "\n", encoding="utf-8")
        yield text


def run_rounds(
    checkouts: list[Path], rounds: int, measure: Callable[[Path], dict[str, float]]
) -> dict[str, list[dict[str, float]]]:
    """``measure(checkout)`` for every checkout in each round; its first figure is the
    one printed per round and compared (higher is better: tokens/s)."""
    runs: dict[str, list[dict[str, float]]] = {str(c): [] for c in checkouts}
    for round_ in range(rounds):
        for checkout in checkouts:
            runs[str(checkout)].append(measure(checkout))
        print(
            json.dumps({"round": round_, **{k: round(next(iter(v[-1].values()))) for k, v in runs.items()}}), flush=True
        )
    return runs


def write_report(what: str, runs: dict[str, list[dict[str, float]]], out: str, **extra: Any) -> None:
    """benchmarks/results/``out``: per checkout, its commit, the median of each figure,
    the first figure's rounds and their ratios to the first checkout's."""
    first_name = next(iter(runs))
    key = next(iter(runs[first_name][0]))
    first = [r[key] for r in runs[first_name]]
    checkouts: dict[str, Any] = {}
    for name, measured in runs.items():
        rates = [r[key] for r in measured]
        checkouts[name] = {
            "commit": commit(Path(name)),
            **{f"{k}_median": round(statistics.median(r[k] for r in measured), 3) for k in measured[0]},
            f"{key}_rounds": [round(x) for x in rates],
            "ratio_to_first_per_round": [round(x / f, 3) for x, f in zip(rates, first, strict=True)],
        }
    report = {"what": what, **extra, "when": time.strftime("%Y-%m-%d %H:%M"), "cpu": cpu_name(), "checkouts": checkouts}
    (ROOT / "benchmarks" / "results" / out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(checkouts, indent=2))
