"""End-to-end entity F1 from raw text versus token-level F1 from gold tokens.

CoNLL-2003 dev has no raw text, so each sentence is detokenized with Moses; the
shipped NER model then tags the raw string through the full service path (our
tokenizer, sentence splitter, Tagger) and its entities are matched to the gold
entities by character offsets and type. The same model on the gold tokens gives the
token-level F1; the gap is what the tokenizer costs.

Usage: .venv/bin/python benchmarks/e2e_f1.py [--model models/ner-en-conll03]
Writes benchmarks/results/e2e_f1.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.corpus_text import DATA, conll_dev_text  # noqa: E402
from tagger.corpus import Sentence  # noqa: E402
from tagger.evaluate import evaluate  # noqa: E402
from tagger.pipeline import Tagger  # noqa: E402
from tagger.tags import TagScheme, spans_from_tags  # noqa: E402


def prf(gold: set[tuple[int, int, int, str]], pred: set[tuple[int, int, int, str]]) -> dict[str, float]:
    tp = len(gold & pred)
    p = tp / len(pred) if pred else 0.0
    r = tp / len(gold) if gold else 0.0
    return {
        "precision": p,
        "recall": r,
        "f1": 2 * p * r / (p + r) if p + r else 0.0,
        "gold": len(gold),
        "predicted": len(pred),
        "correct": tp,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "ner-en-conll03"))
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    tagger = Tagger.load([args.model], device="cpu")
    name = next(iter(tagger.models))
    sentences = conll_dev_text(args.data)

    token_level = evaluate(tagger.labeler, name, [Sentence(s.tokens, s.tags) for s in sentences])

    gold: set[tuple[int, int, int, str]] = set()
    unaligned = 0
    for i, s in enumerate(sentences):
        if s.spans is None:  # cannot place gold tokens in the text: count its entities as missed
            unaligned += 1
            gold |= {(i, -1 - k, -1, span.label) for k, span in enumerate(spans_from_tags(s.tags, TagScheme.IOB2))}
            continue
        for span in spans_from_tags(s.tags, TagScheme.IOB2):
            gold.add((i, s.spans[span.start][0], s.spans[span.end - 1][1], span.label))
    started = time.perf_counter()
    documents = tagger.tag([s.text for s in sentences])
    seconds = time.perf_counter() - started
    pred = {(i, e.start, e.end, e.label) for i, doc in enumerate(documents) for e in doc.entities}
    raw = prf(gold, pred)
    split = sum(len(d.sentences) != 1 for d in documents)
    result = {
        "model": name,
        "sentences": len(sentences),
        "unaligned_sentences": unaligned,
        "sentences_split_differently": split,
        "token_level_f1": token_level["micro"]["f1"],
        "raw_text": raw,
        "gap": token_level["micro"]["f1"] - raw["f1"],
        "raw_text_seconds": round(seconds, 2),
    }
    out = ROOT / "benchmarks" / "results" / "e2e_f1.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"token-level F1 (gold tokens)       {token_level['micro']['f1']:.4f}")
    print(f"end-to-end F1 (raw text, offsets)  {raw['f1']:.4f}  (P {raw['precision']:.4f} R {raw['recall']:.4f})")
    print(f"gap                                {result['gap']:.4f}")
    print(f"{unaligned} sentences could not be aligned; {split} documents not split into exactly one sentence")
    return 0


if __name__ == "__main__":
    sys.exit(main())
