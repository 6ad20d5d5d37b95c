"""Write a small noisy NER corpus derived from CoNLL-2003, for checking that the
training defaults cope with data unlike the clean benchmark: few sentences, text with
typos and lost case, and a share of wrong labels, as hand-made or scraped corpora have.

Nothing is shipped: the files go to OUTDIR (train.txt, dev.txt), made reproducibly
(``--seed``) from the shared corpora.

Usage: make_noisy_corpus.py CONLL_TRAIN CONLL_DEV OUTDIR [--train-sentences 1500]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from tagger.corpus import Sentence, read_corpus

TYPES = ("PER", "LOC", "ORG", "MISC")


def typo(word: str, rng: random.Random) -> str:
    """Drop, double or swap one character of a word of three or more letters."""
    if len(word) < 3 or not word.isalpha():
        return word
    i = rng.randrange(len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return word[:i] + word[i + 1 :]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def noisy(sentence: Sentence, rng: random.Random, typo_rate: float, lower_rate: float, label_rate: float) -> Sentence:
    tokens = [typo(t, rng) if rng.random() < typo_rate else t for t in sentence.tokens]
    if rng.random() < lower_rate:
        tokens = [t.lower() for t in tokens]
    tags = list(sentence.tags)
    for i, tag in enumerate(tags):  # a wrong entity type, keeping the BIO structure
        if tag != "O" and tag.startswith("B-") and rng.random() < label_rate:
            wrong = rng.choice([t for t in TYPES if t != tag[2:]])
            j = i
            while j < len(tags) and (j == i or tags[j].startswith("I-")):
                tags[j] = tags[j][:2] + wrong
                j += 1
    return Sentence(tokens, tags, document=sentence.document)


def write(path: Path, sentences: list[Sentence]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for s in sentences:
            out.writelines(f"{t} {g}\n" for t, g in zip(s.tokens, s.tags, strict=True))
            out.write("\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train", type=Path)
    parser.add_argument("dev", type=Path)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--train-sentences", type=int, default=1500)
    parser.add_argument("--dev-sentences", type=int, default=500)
    parser.add_argument("--typo-rate", type=float, default=0.05)
    parser.add_argument("--lower-rate", type=float, default=0.3)
    parser.add_argument("--label-rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    args.outdir.mkdir(parents=True, exist_ok=True)
    splits = ((args.train, "train.txt", args.train_sentences), (args.dev, "dev.txt", args.dev_sentences))
    for source, name, count in splits:
        sentences = [s for s in read_corpus(source, "conll", 0, -1) if s.tokens][:count]
        rates = (args.typo_rate, args.lower_rate, args.label_rate)
        write(args.outdir / name, [noisy(s, rng, *rates) for s in sentences])
        print(f"{args.outdir / name}: {len(sentences)} sentences")


if __name__ == "__main__":
    main()
