"""The per-chunk work of ``tagger tag`` (tokenize, label, build documents, write JSON
lines), in one process on one thread, for this checkout and others, in alternating
rounds: a before/after comparison that a shared machine's noise does not swamp.

Whole ``tagger tag`` runs with two workers move by 15-25% from run to run on a shared
2-core machine, more than most changes. Here each round runs every checkout once, in
its own process, over the same chunks (CoNLL-2003 dev detokenized, 5 times, cut as
``tagger tag`` cuts it); each process reports its best of ``--passes`` passes (the pass
least disturbed by neighbours), and the report gives each checkout's median over rounds
and its ratio to the first checkout's in every round.

Usage: .venv/bin/python benchmarks/chunk_ab.py --checkout ../before [--checkout .]
          [--models ner-en-conll03,pos-en-ewt] [--rounds 4] [--times 5] [--cold]
``--cold`` loads the models anew before each pass (untimed), so that no word is in the
word memo yet and ONNX Runtime has not run: with ``--times 1``, text as ``tagger tag``
sees text it tags once (passes over the same text otherwise find every word there; with
more copies, only the first is new).
Each checkout is a directory holding ``tagger/`` and ``models/`` (``git worktree add``).
Writes benchmarks/results/chunk_ab.json (``--out``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MEASURE = """
import gc, sys, time
from tagger.device import set_threads
set_threads(1)
from threadpoolctl import threadpool_limits
threadpool_limits(1, user_api="blas")
from tagger.io import read_records
from tagger.pipeline import Tagger
from tagger.tagfiles import CHUNK_CHARS, Chunk, tag_chunk
text, passes, cold, models = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "cold", sys.argv[4:]
tagger = Tagger.load(models, device="cpu")
gc.freeze()
with open(text, "rb") as source:
    records = [r for r in read_records(source, "lines")]
chunks, current, size = [], [], 0
for record in records:
    if size >= CHUNK_CHARS:
        chunks.append(current)
        current, size = [], 0
    current.append(record)
    size += record.size
chunks.append(current)
best, tokens = float("inf"), 0
for _ in range(passes):
    if cold:  # a model loaded anew: every word new to its memo, as in text tagged once
        tagger = Tagger.load(models, device="cpu")
        gc.freeze()
    started = time.perf_counter()
    tokens = sum(tag_chunk(tagger, Chunk(chunk, "jsonl"))[2] for chunk in chunks)
    best = min(best, time.perf_counter() - started)
print(tokens, best)
"""


def measure(checkout: Path, text: Path, passes: int, models: list[str], cold: bool = False) -> float:
    """Tokens/s of the checkout's best pass, in a fresh process that imports its code."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    paths = [str(checkout / "models" / m) for m in models]
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(text), str(passes), "cold" if cold else "warm", *paths],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    tokens, seconds = done.stdout.split()
    return int(tokens) / float(seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, action="append", help="a checkout to compare (repeat); this one last")
    parser.add_argument("--models", default="ner-en-conll03")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--times", type=int, default=5, help="copies of dev in the text")
    parser.add_argument("--data", type=Path, default=None, help="datasets directory (default ../shared/datasets)")
    parser.add_argument("--out", default="chunk_ab.json")
    parser.add_argument(
        "--cold", action="store_true", help="models loaded anew before each pass: no word is in the memo yet"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from benchmarks.ab_rounds import checkouts_and_this, dev_text, run_rounds, write_report

    models = args.models.split(",")
    with dev_text(args.times, args.data) as text:
        runs = run_rounds(
            checkouts_and_this(args.checkout),
            args.rounds,
            lambda c: {"tokens_per_s": measure(c, text, args.passes, models, args.cold)},
        )
    what = f"tag_chunk over CoNLL-2003 dev x{args.times}, one process, one thread, best of {args.passes} passes"
    write_report(what + (", models loaded anew before each pass" if args.cold else ""), runs, args.out, models=models)
    return 0


if __name__ == "__main__":
    sys.exit(main())
