"""Whole ``tagger tag`` processes (default workers, NER only) from this checkout and
others, in alternating rounds: what ``chunk_ab.py`` cannot see, because it runs chunks
in one process (how chunks are cut, how the workers share them, how the run ends).

Each round runs every checkout once on the same text (CoNLL-2003 dev detokenized, one
sentence per line, ``--times`` copies); the report gives each checkout's median of the
command's own tokens/s (over tagging time) and of the whole process's seconds, and its
ratio to the first checkout's in every round.

Usage: .venv/bin/python benchmarks/tag_ab.py --checkout ../before [--checkout .]
          [--rounds 8] [--times 1]
Each checkout is a directory holding ``tagger/`` (``git worktree add``); the models
are this checkout's, so that only the code differs.
Writes benchmarks/results/tag_ab.json (``--out``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.ab_rounds import checkouts_and_this, dev_text, run_rounds, write_report  # noqa: E402
from benchmarks.tag_throughput import SUMMARY  # noqa: E402


def measure(checkout: Path, text: Path, model: Path) -> tuple[float, float]:
    """(tokens/s over tagging time, whole-process seconds) of one run of the checkout's code."""
    command = [sys.executable, "-m", "tagger", "tag", str(text), "--input-format", "lines", "-o", "/dev/null"]
    env = dict(os.environ, PYTHONPATH=str(checkout))
    started = time.perf_counter()
    done = subprocess.run([*command, "--model", str(model)], cwd=checkout, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    match = SUMMARY.search(done.stderr)
    if done.returncode != 0 or match is None:
        raise RuntimeError(f"{checkout}: {done.stderr}")
    return float(match[4].replace(",", "")), wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, action="append", help="a checkout to compare (repeat); this one last")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--times", type=int, default=1, help="copies of dev in the text")
    parser.add_argument("--data", type=Path, default=None, help="datasets directory (default ../shared/datasets)")
    parser.add_argument("--out", default="tag_ab.json")
    args = parser.parse_args()
    model = ROOT / "models" / "ner-en-conll03"
    with dev_text(args.times, args.data) as text:

        def both(checkout: Path) -> dict[str, float]:
            rate, wall = measure(checkout, text, model)
            return {"tokens_per_s": rate, "process_seconds": wall}

        runs = run_rounds(checkouts_and_this(args.checkout), args.rounds, both)
    what = f"tagger tag NER only, default workers, CoNLL-2003 dev x{args.times} as lines, whole processes"
    write_report(what, runs, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
