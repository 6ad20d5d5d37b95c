"""Words, characters and labels, their ids, and how a token becomes model input.

Words are looked up lowercased (GloVe 6B is lowercase) and the lost case comes back as
a small casing feature, so ``Apple`` and ``apple`` share a vector but not a casing id.
"""

from __future__ import annotations

import gzip
import math
import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tagger.errors import CorpusError, TaggerError

if TYPE_CHECKING:  # torch is imported where vectors are read (training), not to tag
    import torch

PAD, UNK = "<pad>", "<unk>"
CASINGS = ("pad", "lower", "upper", "title", "numeric", "mostly_numeric", "has_digit", "mixed", "other")
UNCASED = len(CASINGS)  # the extra casing id of ``ModelConfig.sentence_casing``
_DIGITS = re.compile(r"\d")
_CASE_ONLY = (CASINGS.index("lower"), CASINGS.index("upper"))


def sentence_casings(tokens: Sequence[str], casings: list[int]) -> list[int]:
    """Casing ids of one sentence, with ``UNCASED`` for its lower/upper words when the
    whole sentence is one case (``str.islower``/``isupper``: some cased letter, and none
    of the other case), since then a word's case says nothing about the word."""
    text = "".join(tokens)
    if text.islower() or text.isupper():
        return [UNCASED if c in _CASE_ONLY else c for c in casings]
    return casings


def casing(token: str) -> int:
    """Index into ``CASINGS`` for a token's shape."""
    digits = sum(ch.isdigit() for ch in token)
    if token.isdigit():
        return CASINGS.index("numeric")
    if digits / max(len(token), 1) > 0.5:
        return CASINGS.index("mostly_numeric")
    if digits:
        return CASINGS.index("has_digit")
    if token.islower():
        return CASINGS.index("lower")
    if token.isupper():
        return CASINGS.index("upper")
    if token[:1].isupper() and token[1:].islower():
        return CASINGS.index("title")
    if any(ch.isalpha() for ch in token):
        return CASINGS.index("mixed")
    return CASINGS.index("other")


def model_form(token: str) -> str:
    """The spelling a model reads for a token: composed Unicode (NFC, so ``e`` plus a
    combining acute is ``é``, as corpora and GloVe spell it) without soft hyphens.
    Offsets and the token's text in the output stay as the input had them."""
    if token.isascii():
        return token
    form = unicodedata.normalize("NFC", token).replace("\u00ad", "")
    return form or token


@dataclass
class Vocab:
    """Index maps for words, characters and labels. Index 0 is padding, 1 unknown."""

    words: list[str]
    chars: list[str]
    labels: list[str]
    lowercase: bool = True

    def __post_init__(self) -> None:
        self.word_index = dict(zip(self.words, range(len(self.words)), strict=True))  # 200k words: twice as fast
        self.char_index = {c: i for i, c in enumerate(self.chars)}
        self.label_index = {t: i for i, t in enumerate(self.labels)}
        self._features: dict[tuple[str, int], tuple[int, int, list[int]]] = {}

    def token_ids(self, token: str, max_chars: int) -> tuple[int, int, list[int]]:
        """(word id, casing id, char ids) of a token, memoised: word frequencies are
        Zipfian, so a small cache removes most of the per-token Python work."""
        key = (token, max_chars)
        found = self._features.get(key)
        if found is None:
            if len(self._features) >= 500_000:
                self._features.clear()
            form = model_form(token)
            found = (self.word_id(form), casing(form), self.char_ids(form, max_chars) or [1])
            self._features[key] = found
        return found

    def normalize(self, token: str) -> str:
        return token.lower() if self.lowercase else token

    def word_id(self, token: str) -> int:
        """Exact (normalized) form first, then with digits replaced by 0, else unknown."""
        key = self.normalize(token)
        idx = self.word_index.get(key)
        if idx is None:
            idx = self.word_index.get(_DIGITS.sub("0", key), 1)
        return idx

    def char_ids(self, token: str, max_len: int) -> list[int]:
        return [self.char_index.get(c, 1) for c in token[:max_len]]

    def label_ids(self, tags: Sequence[str]) -> list[int]:
        return [self.label_index[t] for t in tags]

    def to_json(self) -> dict[str, object]:
        return {"words": self.words, "chars": self.chars, "labels": self.labels, "lowercase": self.lowercase}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Vocab:
        return cls(
            words=list(data["words"]),  # type: ignore[call-overload]
            chars=list(data["chars"]),  # type: ignore[call-overload]
            labels=list(data["labels"]),  # type: ignore[call-overload]
            lowercase=bool(data.get("lowercase", True)),
        )


def read_vectors(path: str | Path, limit: int | None = None) -> tuple[list[str], torch.Tensor]:
    """Read a GloVe-format text file (``word v1 ... vd``, optionally gzipped).

    Returns the words in file order and a (N, d) float tensor. Every problem is a
    one-line ``TaggerError`` naming the file, and the line where there is one: a
    missing or unreadable file, a ``.gz`` that is not gzip, bytes that are not UTF-8,
    a line whose width differs from the first, a value that is not a finite number.
    """
    path = Path(path)
    if path.is_dir():
        raise TaggerError(f"{path}: is a directory, not a vectors file")
    if not path.exists():
        raise TaggerError(f"{path}: no such vectors file")
    try:
        return _read_vectors(path, limit)
    except gzip.BadGzipFile as exc:
        if "not a gzipped file" in str(exc).lower():
            raise TaggerError(f"{path}: not a gzip file (the name ends in .gz)") from None
        raise TaggerError(f"{path}: cannot read the gzip file: {exc}") from None
    except (EOFError, zlib.error) as exc:  # a truncated or damaged gzip stream
        raise TaggerError(f"{path}: cannot read the gzip file: {exc}") from None
    except OSError as exc:
        raise TaggerError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _read_vectors(path: Path, limit: int | None) -> tuple[list[str], torch.Tensor]:
    opener = gzip.open if path.name.endswith(".gz") else open
    words: list[str] = []
    rows: list[list[float]] = []
    dim = -1
    with opener(path, "rb") as fh:  # type: ignore[operator]
        for number, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                where = f"byte 0x{raw[exc.start]:02x} at column {exc.start + 1}"
                raise CorpusError(path, number, f"not UTF-8 text ({where})") from None
            parts = line.rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # word2vec-style header
            if dim < 0:
                dim = len(parts) - 1
                if dim < 1:
                    raise CorpusError(path, number, "a word without vector values")
            if len(parts) - 1 != dim:
                raise CorpusError(path, number, f"expected {dim} vector values, found {len(parts) - 1}")
            try:
                row = [float(x) for x in parts[1:]]
            except ValueError:
                raise CorpusError(path, number, "vector value is not a number") from None
            if not all(map(math.isfinite, row)):
                value = next(x for x, v in zip(parts[1:], row, strict=True) if not math.isfinite(v))
                raise CorpusError(path, number, f"vector value {value!r} is not a finite number")
            rows.append(row)
            words.append(parts[0])
            if limit is not None and len(words) >= limit:
                break
    if not words:
        raise CorpusError(path, 1, "no vectors found")
    import torch

    return words, torch.tensor(rows)


def build_vocab(
    corpus_tokens: Iterable[str],
    labels: Iterable[str],
    pretrained_words: Sequence[str] = (),
    max_pretrained: int = 200_000,
    min_count: int = 2,
    lowercase: bool = True,
    keep_words: Iterable[str] = (),
) -> Vocab:
    """Vocabulary = training words seen ``min_count`` times, plus the ``max_pretrained``
    most frequent pretrained words, plus any pretrained word in ``keep_words`` (e.g.
    the training and dev words), so the shipped embedding table stays small.
    """
    counts: Counter[str] = Counter()
    chars: Counter[str] = Counter()
    for token in map(model_form, corpus_tokens):
        counts[token.lower() if lowercase else token] += 1
        chars.update(token)
    pretrained = set(pretrained_words)
    keep = {w.lower() if lowercase else w for w in keep_words}
    words = [PAD, UNK]
    seen = set(words)
    for i, w in enumerate(pretrained_words):
        if (i < max_pretrained or w in keep or w in counts) and w not in seen:
            words.append(w)
            seen.add(w)
    for w, c in counts.most_common():
        if w not in seen and (c >= min_count or w in pretrained):
            words.append(w)
            seen.add(w)
    char_list = [PAD, UNK, *sorted(chars)]
    return Vocab(words, char_list, sorted(set(labels)), lowercase)
