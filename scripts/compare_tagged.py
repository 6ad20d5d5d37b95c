"""Compare two JSONL outputs of ``tagger tag`` token by token (a before/after check).

Usage: .venv/bin/python scripts/compare_tagged.py BEFORE.jsonl AFTER.jsonl
Prints the documents and tokens compared and how many labels, scores, offsets and
entity lists differ; exits 1 when any label, offset or entity differs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(before: str, after: str) -> int:
    a = [json.loads(line) for line in Path(before).read_text(encoding="utf-8").splitlines()]
    b = [json.loads(line) for line in Path(after).read_text(encoding="utf-8").splitlines()]
    tokens_a = [t for d in a for s in d["sentences"] for t in s]
    tokens_b = [t for d in b for s in d["sentences"] for t in s]
    pairs = list(zip(tokens_a, tokens_b, strict=False))
    labels = sum(x["labels"][m]["label"] != y["labels"][m]["label"] for x, y in pairs for m in x["labels"])
    scores = sum(x["labels"][m]["score"] != y["labels"][m]["score"] for x, y in pairs for m in x["labels"])
    offsets = sum((x["text"], x["start"], x["end"]) != (y["text"], y["start"], y["end"]) for x, y in pairs)
    entities = sum(x["entities"] != y["entities"] for x, y in zip(a, b, strict=False))
    print(
        json.dumps(
            {
                "documents": [len(a), len(b)],
                "tokens": [len(tokens_a), len(tokens_b)],
                "label_differences": labels,
                "score_differences": scores,
                "offset_differences": offsets,
                "documents_with_other_entities": entities,
            }
        )
    )
    same_shape = len(a) == len(b) and len(tokens_a) == len(tokens_b)
    return 0 if same_shape and not (labels or offsets or entities) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
