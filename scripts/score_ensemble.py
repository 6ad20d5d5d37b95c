"""Score models alone and combined as one log-linear CRF (``tagger.distil.Ensemble``:
emission and transition scores averaged) on dev as written, lower-cased and upper-cased,
and on the held-out slice of train: what several seeds know together, the case for
distillation. Sentences are scored alone (no document consistency).

Usage: score_ensemble.py MODEL_DIR MODEL_DIR ... [--holdout-share S] [--output FILE.json]
(train and dev: the paths in the first model's metrics.json; the held-out share: its
config.json's ``holdout_share`` unless given)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from tagger import checkpoint
from tagger.corpus import Sentence
from tagger.distil import Ensemble, load_teachers
from tagger.evaluate import score
from tagger.labeler import OUTPUT_SCHEME
from tagger.tags import TagScheme, convert, detect_scheme
from tagger.train import load_data, split_holdout


def labels_of(ensemble: Ensemble, labels: list[str], scheme: TagScheme, sentences: list[list[str]]) -> list[list[str]]:
    return [convert([labels[p] for p in path], scheme, OUTPUT_SCHEME) for path, _ in ensemble.decode_each(sentences)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--holdout-share", type=float, help="default: the first model's holdout_share")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    first = checkpoint.load(args.models[0])
    loaded = load_teachers(args.models, first.vocab.labels, first.label_scheme)  # one label set, one kind of head
    data = json.loads((args.models[0] / "metrics.json").read_text())["data"]
    dev = load_data(data["dev"], first.config)
    share = first.config.train.holdout_share if args.holdout_share is None else args.holdout_share
    _, held_out = split_holdout(load_data(data["train"], first.config), share)
    sets: dict[str, tuple[list[Sentence], Any]] = {
        "dev": (dev, str),
        "dev_lower": (dev, str.lower),
        "dev_upper": (dev, str.upper),
    }
    if held_out:
        sets["holdout"] = (held_out, str)
    labels = first.vocab.labels
    results: dict[str, dict[str, float]] = {}
    members = [(str(m), [i]) for i, m in enumerate(args.models)] + [("combined", list(range(len(loaded))))]
    for name, which in members:
        ensemble = Ensemble([loaded[i] for i in which], labels)
        row = {}
        for set_name, (sentences, recase) in sets.items():
            gold = [s.tags for s in sentences]
            gold = [convert(g, detect_scheme(gold), OUTPUT_SCHEME) for g in gold]
            tokens = [[recase(t) for t in s.tokens] for s in sentences]
            row[set_name] = score(gold, labels_of(ensemble, labels, first.label_scheme, tokens), spans=True)["main"]
        results[name] = row
        print(name, " ".join(f"{k} {v:.4f}" for k, v in row.items()), flush=True)
    means = {k: float(np.mean([results[str(m)][k] for m in args.models])) for k in sets}
    print("mean of the models alone", " ".join(f"{k} {v:.4f}" for k, v in means.items()))
    if args.output:
        args.output.write_text(json.dumps({"models": results, "mean_alone": means}, indent=2) + "\n")


if __name__ == "__main__":
    main()
