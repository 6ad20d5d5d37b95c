"""``tagger tag`` next to other taggers on the same raw text, in the same run.

Text: CoNLL-2003 dev detokenized, one sentence per line, once and repeated 5 times.
Ours: the whole ``tagger tag`` process (start-up, model loading, tagging, writing), NER
only, and its own tokens/s over tagging time. Peers run in this process on the same
lines, NER only, through their batch API; a peer that is not installed is skipped with
the reason (this script installs nothing).

Peers: spaCy ``en_core_web_sm`` (``nlp.pipe``, every pipe but tok2vec and ner disabled).

Usage: .venv/bin/python benchmarks/peers.py [--repeats 3]
Writes benchmarks/results/peers.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.corpus_text import DATA, conll_dev_text  # noqa: E402
from benchmarks.tag_throughput import SUMMARY  # noqa: E402


def ours(path: Path, extra: list[str]) -> dict[str, Any]:
    command = [sys.executable, "-m", "tagger", "tag", str(path), "--input-format", "lines", "-o", "/dev/null"]
    command += ["--model", str(ROOT / "models" / "ner-en-conll03"), *extra]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    match = SUMMARY.search(done.stderr)
    if match is None:
        raise RuntimeError(done.stderr)
    tokens = int(match[2])
    return {"tokens": tokens, "process_seconds": round(wall, 3), "tokens_per_s_whole_process": round(tokens / wall)}


def spacy_ner(lines: list[str]) -> dict[str, Any]:
    try:
        import spacy
    except ImportError:
        return {"skipped": "spacy is not installed"}
    try:
        started = time.perf_counter()
        nlp = spacy.load("en_core_web_sm", exclude=["parser", "tagger", "attribute_ruler", "lemmatizer", "senter"])
        loaded = time.perf_counter() - started
    except OSError as exc:
        return {"skipped": f"spacy model en_core_web_sm is not installed ({exc})"}
    started = time.perf_counter()
    tokens = sum(len(doc) for doc in nlp.pipe(lines, batch_size=256))
    seconds = time.perf_counter() - started
    return {"tokens": tokens, "load_seconds": round(loaded, 3), "tokens_per_s": round(tokens / seconds)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", default="peers.json")
    args = parser.parse_args()
    lines = [s.text for s in conll_dev_text(args.data)]
    report: dict[str, Any] = {"text": "CoNLL-2003 dev, detokenized, one sentence per line", "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for times in (1, 5):
            path = Path(tmp) / f"dev_x{times}.txt"
            path.write_text("\n".join(lines * times) + "\n", encoding="utf-8")
            runs = [ours(path, []) for _ in range(args.repeats)]
            entry: dict[str, Any] = {
                "tagger tag (whole process, NER only)": {
                    "process_seconds_median": statistics.median(r["process_seconds"] for r in runs),
                    "tokens": runs[0]["tokens"],
                    "runs": runs,
                }
            }
            peers = [spacy_ner(lines * times) for _ in range(args.repeats)]
            if "skipped" in peers[0]:
                entry["spacy en_core_web_sm (NER only)"] = peers[0]
            else:
                entry["spacy en_core_web_sm (NER only)"] = {
                    "tokens_per_s_median": statistics.median(p["tokens_per_s"] for p in peers),
                    "runs": peers,
                }
            report["runs"][f"dev x{times}"] = entry
            print(json.dumps({f"dev x{times}": entry}))
        empty = Path(tmp) / "empty.txt"
        empty.write_text("", encoding="utf-8")
        startup = [ours(empty, [])["process_seconds"] for _ in range(args.repeats)]
        report["tagger tag on an empty input (seconds)"] = {"median": statistics.median(startup), "runs": startup}
    out = ROOT / "benchmarks" / "results" / args.out
    out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
