"""How closely does ``tagger.tokenize`` reproduce the tokenization of the training corpora?

The service tokenizes raw request text; the models were trained on pre-tokenized
corpora. Every token boundary the service draws differently from the corpus is a word
the model has never seen in that form, so this benchmark measures the gap:

* **UD English EWT dev**: tokenize each sentence's ``# text`` with ``tokenize_words`` and
  score token spans against the gold *words* (multiword ranges such as ``don't`` are
  represented by their parts ``do n't``). Precision/recall/F1 count a token as correct
  when its character span equals a gold word's span.
* **CoNLL-2003 dev**: the corpus has no raw text, so each sentence is detokenized with
  Moses and re-tokenized; we report the share of sentences whose tokens come back
  identical.
* **Speed**: tokens per second of ``tokenize`` (with sentence splitting) on the
  detokenized CoNLL dev text, median of 5 runs.

Mismatches are grouped by *shape* (``Paris`` -> ``Aa``, ``15-year`` -> ``9-a``) so the
report shows error categories (``9|-|a  vs  9-a``: a hyphen we keep, gold splits)
rather than thousands of one-off strings.

Usage::

    .venv/bin/python benchmarks/tokenizer_fidelity.py [--data ../shared/datasets]

Writes ``benchmarks/results/tokenizer_fidelity.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.corpus_text import Span, align  # noqa: E402
from tagger.io import InputFormat, Record, read_records  # noqa: E402
from tagger.tokenize import tokenize, tokenize_words  # noqa: E402


def shape(token: str) -> str:
    """``Paris`` -> ``Aa``, ``15-year`` -> ``9-a``, ``U.S.`` -> ``A.A.``: runs collapsed."""
    out = re.sub(r"[A-Z]+", "A", token)
    out = re.sub(r"[^\W\d_A]+", "a", out)
    return re.sub(r"\d+", "9", out)


def mismatch_regions(text: str, gold: Sequence[Span], pred: Sequence[Span]) -> list[tuple[list[str], list[str]]]:
    """Minimal regions where the gold and predicted tokenizations disagree.

    Walks both span lists in order; a region starts at the first differing span and
    grows until both sides reach a common boundary.
    """
    regions: list[tuple[list[str], list[str]]] = []
    i = j = 0
    while i < len(gold) or j < len(pred):
        if i < len(gold) and j < len(pred) and gold[i] == pred[j]:
            i += 1
            j += 1
            continue
        end = max(gold[i][1] if i < len(gold) else -1, pred[j][1] if j < len(pred) else -1)
        g: list[str] = []
        p: list[str] = []
        while True:
            grew = False
            while i < len(gold) and gold[i][0] < end:
                g.append(text[gold[i][0] : gold[i][1]])
                end = max(end, gold[i][1])
                i += 1
                grew = True
            while j < len(pred) and pred[j][0] < end:
                p.append(text[pred[j][0] : pred[j][1]])
                end = max(end, pred[j][1])
                j += 1
                grew = True
            if not grew:
                break
        regions.append((g, p))
    return regions


def category(gold: Sequence[str], pred: Sequence[str]) -> str:
    return f"{' | '.join(map(shape, gold)) or '∅'}  vs  {' | '.join(map(shape, pred)) or '∅'}"


def top_categories(errors: Counter[str], examples: dict[str, list[str]], n: int) -> list[dict[str, Any]]:
    return [{"category": cat, "count": count, "examples": examples[cat]} for cat, count in errors.most_common(n)]


def record(errors: Counter[str], examples: dict[str, list[str]], regions: list[tuple[list[str], list[str]]]) -> None:
    for g, p in regions:
        cat = category(g, p)
        errors[cat] += 1
        example = f"gold {' '.join(g)!r} / ours {' '.join(p)!r}"
        if len(examples[cat]) < 3 and example not in examples[cat]:
            examples[cat].append(example)


def _records(path: Path, fmt: InputFormat) -> Iterator[Record]:
    with open(path, "rb") as stream:
        yield from read_records(stream, fmt)


def evaluate_ewt(path: Path, n_top: int) -> dict[str, Any]:
    """Span precision/recall/F1 of ``tokenize_words`` against EWT gold words."""
    n_gold = n_pred = n_correct = n_sentences = n_unaligned = 0
    errors: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    for sent in _records(path, "conllu"):
        text = sent.comment("text")
        if text is None or not sent.tokens:
            n_unaligned += 1
            continue
        gold = align(text, sent.tokens)
        if gold is None:
            n_unaligned += 1
            continue
        n_sentences += 1
        pred = [(t.start, t.end) for t in tokenize_words(text)]
        n_gold += len(gold)
        n_pred += len(pred)
        n_correct += len(set(gold) & set(pred))
        record(errors, examples, mismatch_regions(text, gold, pred))
    precision = n_correct / n_pred if n_pred else 0.0
    recall = n_correct / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "file": str(path),
        "sentences": n_sentences,
        "sentences_unaligned": n_unaligned,
        "gold_tokens": n_gold,
        "predicted_tokens": n_pred,
        "correct_tokens": n_correct,
        "precision": round(precision, 5),
        "recall": round(recall, 5),
        "f1": round(f1, 5),
        "error_regions": sum(errors.values()),
        "top_errors": top_categories(errors, examples, n_top),
    }


def evaluate_conll(path: Path, n_top: int) -> tuple[dict[str, Any], list[str]]:
    """Moses-detokenize each CoNLL sentence, re-tokenize, count identical round trips."""
    from sacremoses import MosesDetokenizer

    detok = MosesDetokenizer(lang="en")
    texts: list[str] = []
    n = n_identical = n_unaligned = 0
    errors: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    for sent in _records(path, "conll"):
        tokens = sent.tokens or []
        text = detok.detokenize(tokens)
        texts.append(text)
        n += 1
        pred = tokenize_words(text)
        if [t.text for t in pred] == tokens:
            n_identical += 1
            continue
        gold = align(text, tokens)
        if gold is None:
            n_unaligned += 1
            continue
        record(errors, examples, mismatch_regions(text, gold, [(t.start, t.end) for t in pred]))
    report = {
        "file": str(path),
        "sentences": n,
        "identical_sentences": n_identical,
        "identical_share": round(n_identical / n, 5) if n else 0.0,
        "mismatched_unalignable": n_unaligned,
        "top_mismatches": top_categories(errors, examples, n_top),
    }
    return report, texts


def measure_speed(texts: Sequence[str], runs: int = 5) -> dict[str, Any]:
    """Tokens/s of ``tokenize`` on the whole text and on one call per sentence."""
    whole = "\n".join(texts)
    n_tokens = sum(len(s) for s in tokenize(whole))

    def timed(fn: Any) -> float:
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    t_whole = timed(lambda: tokenize(whole))
    t_words = timed(lambda: tokenize_words(whole))
    t_per_sentence = timed(lambda: [tokenize(t) for t in texts])
    return {
        "characters": len(whole),
        "tokens": n_tokens,
        "runs": runs,
        "tokenize_tokens_per_s": round(n_tokens / t_whole),
        "tokenize_words_tokens_per_s": round(n_tokens / t_words),
        "tokenize_per_sentence_call_tokens_per_s": round(n_tokens / t_per_sentence),
        "median_seconds_tokenize": round(t_whole, 4),
    }


def print_categories(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"  {title}")
    for row in rows:
        print(f"    {row['count']:5d}  {row['category']}")
        for ex in row["examples"]:
            print(f"           {ex}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets", help="datasets directory")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "tokenizer_fidelity.json")
    parser.add_argument("--top", type=int, default=15, help="error categories to show")
    args = parser.parse_args(argv)

    ewt_path = args.data / "ud_english_ewt" / "en_ewt-ud-dev.conllu"
    conll_path = args.data / "conll2003" / "valid.txt"
    for path in (ewt_path, conll_path):
        if not path.is_file():
            print(f"error: {path} not found (pass --data)", file=sys.stderr)
            return 2

    ewt = evaluate_ewt(ewt_path, args.top)
    conll, texts = evaluate_conll(conll_path, args.top)
    speed = measure_speed(texts)

    print(f"UD English EWT dev ({ewt['sentences']} sentences, {ewt['sentences_unaligned']} unaligned)")
    print(
        f"  token P {ewt['precision']:.4f}  R {ewt['recall']:.4f}  F1 {ewt['f1']:.4f}"
        f"  (gold {ewt['gold_tokens']}, ours {ewt['predicted_tokens']}, {ewt['error_regions']} error regions)"
    )
    print_categories("top errors (gold shapes  vs  our shapes):", ewt["top_errors"])
    print(f"\nCoNLL-2003 dev, Moses detokenize -> tokenize ({conll['sentences']} sentences)")
    print(f"  identical sentences: {conll['identical_sentences']} ({conll['identical_share']:.2%})")
    print_categories("top mismatches:", conll["top_mismatches"])
    print(f"\nSpeed on detokenized CoNLL dev ({speed['tokens']} tokens, median of {speed['runs']} runs)")
    print(f"  tokenize:                 {speed['tokenize_tokens_per_s']:>10,} tokens/s")
    print(f"  tokenize_words:           {speed['tokenize_words_tokens_per_s']:>10,} tokens/s")
    print(f"  tokenize, one call/sent.: {speed['tokenize_per_sentence_call_tokens_per_s']:>10,} tokens/s")

    result = {
        "ewt_dev": ewt,
        "conll2003_dev_roundtrip": conll,
        "speed": speed,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
