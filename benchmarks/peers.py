"""``tagger tag`` next to other taggers on the same raw text, in the same run.

Text: CoNLL-2003 dev detokenized, one sentence per line, once and repeated 5 times.
Ours: the whole ``tagger tag`` process (start-up, model loading, tagging, writing), NER
only, and its own tokens/s over tagging time. Peers run in this process on the same
lines, NER only, through their batch API; a peer that is not installed is skipped with
the reason (this script installs nothing).

Peers: spaCy ``en_core_web_sm`` (``nlp.pipe``, every pipe but tok2vec and ner disabled),
in one process and with ``n_process=2``. Where that package is not installed (it is not
on PyPI, and these machines reach nothing else) but spaCy is, the stand-in is a spaCy
pipeline built as en_core_web_sm's NER-only pipeline runs: a ``tok2vec`` component and an
``ner`` with a tok2vec of its own (spaCy's default component configs: hash embeddings of
width 96 over NORM, PREFIX, SUFFIX and SHAPE, a 4-layer maxout window encoder, the
transition-based NER with hidden width 64, as in the sm package, whose NER does not
listen to the shared tok2vec), initialised but untrained. Its speed is the sm
pipeline's (the NER takes one transition per token whatever the weights; the hash
tables' row counts differ, which costs nothing per token); its labels mean nothing, so
only tokens/s is reported. The report names which one ran.

Ours is timed as the issue timed it: ``tagger tag`` NER only with its default workers
(one per core) and in-process (``--workers 1``), its own tokens/s over tagging time.

Usage: .venv/bin/python benchmarks/peers.py [--repeats 3] [--backends auto,onnx]
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
    return {
        "tokens": tokens,
        "process_seconds": round(wall, 3),
        "tokens_per_s_whole_process": round(tokens / wall),
        "tokens_per_s": int(match[4].replace(",", "")),  # the command's own, over tagging time
    }


def spacy_pipeline() -> tuple[Any, str] | str:
    """(nlp, what it is), or why there is none."""
    try:
        import spacy
    except ImportError:
        return "spacy is not installed"
    try:
        nlp = spacy.load("en_core_web_sm", exclude=["parser", "tagger", "attribute_ruler", "lemmatizer", "senter"])
        return nlp, "spacy en_core_web_sm (NER only)"
    except OSError:
        pass
    nlp = spacy.blank("en")
    nlp.add_pipe("tok2vec")  # runs, as in en_core_web_sm with the other pipes excluded
    ner: Any = nlp.add_pipe("ner")  # the default model has its own tok2vec, as sm's NER does
    for label in ("PER", "LOC", "ORG", "MISC"):
        ner.add_label(label)
    nlp.initialize()
    what = f"spacy {spacy.__version__}: tok2vec + ner as in en_core_web_sm, untrained (en_core_web_sm not installed)"
    return nlp, what


def spacy_ner(nlp: Any, lines: list[str], processes: int) -> dict[str, Any]:
    started = time.perf_counter()
    tokens = sum(len(doc) for doc in nlp.pipe(lines, batch_size=256, n_process=processes))
    seconds = time.perf_counter() - started
    return {"tokens": tokens, "tokens_per_s": round(tokens / seconds)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", default="peers.json")
    parser.add_argument(
        "--backends", default="auto", help="comma-separated backends for ours (auto, onnx, onnx-int8, torch)"
    )
    args = parser.parse_args()
    lines = [s.text for s in conll_dev_text(args.data)]
    report: dict[str, Any] = {"text": "CoNLL-2003 dev, detokenized, one sentence per line", "runs": {}}
    peer = spacy_pipeline()
    if isinstance(peer, str):
        report["peer"] = {"skipped": peer}
    else:
        report["peer"] = peer[1]
    with tempfile.TemporaryDirectory() as tmp:
        for times in (1, 5):
            path = Path(tmp) / f"dev_x{times}.txt"
            path.write_text("\n".join(lines * times) + "\n", encoding="utf-8")
            entry: dict[str, Any] = {}
            settings = [
                (label + ("" if backend == "auto" else f", --backend {backend}"), [*flags, "--backend", backend])
                for backend in args.backends.split(",")
                for label, flags in (("default workers", []), ("--workers 1", ["--workers", "1"]))
            ]
            for label, flags in settings:
                runs = [ours(path, flags) for _ in range(args.repeats)]
                entry[f"tagger tag, NER only, {label}"] = {
                    "process_seconds_median": statistics.median(r["process_seconds"] for r in runs),
                    "tokens_per_s_median": statistics.median(r["tokens_per_s"] for r in runs),
                    "tokens": runs[0]["tokens"],
                    "runs": runs,
                }
            if not isinstance(peer, str):
                for processes in (1, 2):
                    peers = [spacy_ner(peer[0], lines * times, processes) for _ in range(args.repeats)]
                    entry[f"peer, n_process={processes}"] = {
                        "tokens_per_s_median": statistics.median(p["tokens_per_s"] for p in peers),
                        "tokens": peers[0]["tokens"],
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
