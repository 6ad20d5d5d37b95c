"""Tokenizer speed: ``tokenize_words`` against one scan of the same rules over the text.

``tokenize_words`` takes runs of ASCII letters or digits between spaces whole and runs
the rules only on the other runs; both give the same tokens (checked here on each text,
and by the property tests). Texts: CoNLL-2003 dev detokenized (news), EWT dev as written
(web text), one line per sentence, each tokenized as one text per line, as ``tagger tag
--input-format lines`` does. Median of ``--repeats`` passes over every line.

Usage: .venv/bin/python benchmarks/tokenize_speed.py [--repeats 7]
Writes benchmarks/results/tokenize_speed.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.corpus_text import DATA, conll_dev_text  # noqa: E402
from tagger.tokenize import _TOKEN_RE, Token, tokenize_words  # noqa: E402


def one_scan(text: str) -> list[Token]:
    return [Token(m[0], m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]


def ewt_dev_lines(data: Path) -> list[str]:
    path = data / "ud_english_ewt" / "en_ewt-ud-dev.conllu"
    prefix = "# text = "
    return [line[len(prefix) :] for line in path.read_text(encoding="utf-8").splitlines() if line.startswith(prefix)]


def timed(fn: Callable[[str], list[Token]], lines: list[str], repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        for line in lines:
            fn(line)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    texts = {
        "conll2003 dev, detokenized": [r.text for r in conll_dev_text(args.data)],
        "ewt dev, as written": ewt_dev_lines(args.data),
    }
    report: dict[str, Any] = {"repeats": args.repeats, "texts": {}}
    for name, lines in texts.items():
        tokens = [tokenize_words(line) for line in lines]
        if tokens != [one_scan(line) for line in lines]:
            raise SystemExit(f"{name}: the two tokenizations differ")
        count = sum(len(t) for t in tokens)
        scan, fast = timed(one_scan, lines, args.repeats), timed(tokenize_words, lines, args.repeats)
        row = {
            "lines": len(lines),
            "tokens": count,
            "one_scan_s": round(scan, 4),
            "tokenize_words_s": round(fast, 4),
            "one_scan_tokens_per_s": round(count / scan),
            "tokenize_words_tokens_per_s": round(count / fast),
        }
        report["texts"][name] = row
        print(json.dumps({name: row}))
    out = ROOT / "benchmarks" / "results" / "tokenize_speed.json"
    out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
