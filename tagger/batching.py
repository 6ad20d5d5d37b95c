"""Batching without torch: sentences turned into padded NumPy id arrays, grouped by
length under a padded-token budget, and widened with their document neighbours.

Sentences of similar length go together (less padding, fewer wasted LSTM steps), cut
into batches where one more batch costs less than the padding it saves (each backend
states what a batch costs it), and capped by a token budget so a long document cannot
blow up memory. Nothing here imports torch: the ONNX backend tags with these arrays
alone, and ``tagger.batch`` wraps them as tensors (without copying) for training and
the torch backend.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tagger.vocab import Vocab, sentence_casings


@dataclass
class Arrays:
    words: np.ndarray  # (B, T) int64 word ids, 0 = padding
    casings: np.ndarray  # (B, T) int64 casing ids
    chars: np.ndarray  # (U, L) int64 char ids of the U distinct token strings in the batch
    char_lengths: np.ndarray  # (U,) int64
    char_rows: np.ndarray  # (N,) int64 row of ``chars`` for each of the N real tokens, row-major over (B, T)
    mask: np.ndarray  # (B, T) bool, true on real tokens
    lengths: np.ndarray  # (B,) int64 sentence lengths
    labels: np.ndarray | None = None  # (B, T) int64 label ids, 0 on padding
    distinct: list[str] = field(default_factory=list)  # the U token strings of ``chars``


def encode_arrays(
    sentences: Sequence[Sequence[str]],
    vocab: Vocab,
    max_word_chars: int,
    labels: Sequence[Sequence[str]] | None = None,
    sentence_casing: bool = False,
) -> Arrays:
    """Encode tokenized sentences (each non-empty) into one padded batch.

    The character encoder sees each distinct token string once: a word's character
    vector does not depend on its context, and in a batch of a few thousand tokens
    about half are repeats ("the", ",", ".").
    """
    lengths = [len(s) for s in sentences]
    batch, steps = len(sentences), max(lengths)
    tokens = [t for sent in sentences for t in sent]
    features = [vocab.token_ids(t, max_word_chars) for t in tokens]
    # Distinct tokens in order of first appearance (a repeat rewrites the same value).
    spelling = dict(zip(tokens, (f[2] for f in features), strict=True))
    row_of = {t: i for i, t in enumerate(spelling)}
    char_rows = np.array([row_of[t] for t in tokens], dtype=np.int64)  # (N,)
    spelled = list(spelling.values())
    length_array = np.array(lengths, dtype=np.int64)
    mask = np.arange(steps)[None, :] < length_array[:, None]  # (B, T)
    words = np.zeros((batch, steps), dtype=np.int64)
    casings = np.zeros((batch, steps), dtype=np.int64)
    words[mask] = [f[0] for f in features]  # row-major over (B, T), as ``tokens``
    token_casings = [f[1] for f in features]
    if sentence_casing:  # per row, which is one sentence: such models read sentences alone
        bounds = itertools.pairwise(itertools.accumulate(lengths, initial=0))
        token_casings = [
            c
            for sent, (start, end) in zip(sentences, bounds, strict=True)
            for c in sentence_casings(sent, token_casings[start:end])
        ]
    casings[mask] = token_casings
    char_lengths = np.array([len(c) for c in spelled], dtype=np.int64)  # (U,)
    flat = np.fromiter(itertools.chain.from_iterable(spelled), dtype=np.int64)  # (sum of lengths,)
    # Scatter the flat char ids into a (U, L) grid without a Python loop over tokens.
    rows = np.repeat(np.arange(len(spelled)), char_lengths)
    starts = np.cumsum(char_lengths) - char_lengths
    cols = np.arange(flat.size) - np.repeat(starts, char_lengths)
    chars = np.zeros((len(spelled), int(char_lengths.max())), dtype=np.int64)  # (U, L)
    chars[rows, cols] = flat
    label_array = None
    if labels is not None:
        label_array = np.zeros((batch, steps), dtype=np.int64)
        label_array[mask] = [vocab.label_index[t] for tags in labels for t in tags]
    return Arrays(words, casings, chars, char_lengths, char_rows, mask, length_array, label_array, list(spelling))


DEFAULT_BATCH_TOKENS = 4096  # padded tokens (sentences x longest) of one forward pass
MAX_WINDOW_TOKENS = 512  # a sentence and its context neighbours, the same in training and tagging


def token_budget_batches(
    lengths: Sequence[int],
    max_tokens: int = DEFAULT_BATCH_TOKENS,
    max_sentences: int = 1024,
    batch_overhead: float = float("inf"),
) -> list[list[int]]:
    """Indices grouped into batches after sorting by length (longest first).

    A batch's padded size (sentences x longest) stays under ``max_tokens`` unless one
    sentence alone exceeds it. Within that cap the grouping minimises the total cost
    ``batches * batch_overhead + padded tokens``: a backend that pays for every padded
    step (ONNX Runtime's LSTM) has a small overhead per batch and gets batches of
    near-equal length, so a chunk of a few hundred sentences of mixed lengths is not
    padded to nearly twice its size; one whose batches are dear (torch, CUDA) gets
    few, full ones. The default, an infinite overhead, fills each batch in turn.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    if batch_overhead == float("inf"):
        return _filled_batches(order, lengths, max_tokens, max_sentences)
    sorted_lengths = [lengths[i] for i in order]
    n = len(order)
    # cost[i]: least cost of batching sentences i.. of the sorted order; ends[i]: where
    # the first batch of that best grouping ends. A batch from i is padded to sorted_lengths[i].
    cost = np.zeros(n + 1)
    ends = np.zeros(n, dtype=np.int64)
    for i in range(n - 1, -1, -1):
        longest = sorted_lengths[i]
        most = max(1, min(n - i, max_sentences, max_tokens // max(longest, 1)))
        sizes = np.arange(1, most + 1)  # (most,)
        options = batch_overhead + sizes * longest + cost[i + 1 : i + 1 + most]  # (most,)
        best = int(options.argmin())
        cost[i], ends[i] = options[best], i + 1 + best
    batches, start = [], 0
    while start < n:
        end = int(ends[start])
        batches.append(order[start:end])
        start = end
    return batches


def _filled_batches(order: list[int], lengths: Sequence[int], max_tokens: int, max_sentences: int) -> list[list[int]]:
    """Each batch filled up to the cap before the next is begun."""
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        longest = lengths[current[0]] if current else lengths[i]
        if current and ((len(current) + 1) * longest > max_tokens or len(current) >= max_sentences):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def bucketed_batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Training batches of ``batch_size`` sentences of similar length, in random order.

    Sorting on length plus a little noise keeps batches tight but varied across epochs.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i] + rng.uniform(-2, 2))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


@dataclass(frozen=True)
class Window:
    """Sentences ``[first, last)`` of one document run through the model together, so
    that sentence ``centre`` is labelled with its neighbours in view."""

    first: int
    last: int
    centre: int


def context_windows(
    lengths: Sequence[int], documents: Sequence[int], context: int, max_tokens: int = MAX_WINDOW_TOKENS
) -> list[Window]:
    """For each sentence, a window of up to ``context`` neighbours on each side from the
    same document, grown one sentence a side at a time while it stays within
    ``max_tokens`` (the sentence itself always fits). ``context=0``: the sentence alone.
    """
    windows = []
    for i in range(len(lengths)):
        first, last, size = i, i + 1, lengths[i]
        for _ in range(context):
            grew = False
            if first > 0 and documents[first - 1] == documents[i] and size + lengths[first - 1] <= max_tokens:
                first -= 1
                size += lengths[first]
                grew = True
            if last < len(lengths) and documents[last] == documents[i] and size + lengths[last] <= max_tokens:
                size += lengths[last]
                last += 1
                grew = True
            if not grew:
                break
        windows.append(Window(first, last, i))
    return windows


def context_chunks(
    lengths: Sequence[int],
    documents: Sequence[int],
    context: int,
    rng: random.Random,
    max_tokens: int = MAX_WINDOW_TOKENS,
) -> list[range]:
    """Training groups of consecutive sentences of one document, ``2 * context + 1`` at
    most (and within ``max_tokens`` unless one sentence alone is longer), cut at a random
    offset drawn per document, so every sentence is trained on once per epoch with its
    neighbours in view, at a position that changes between epochs.

    Training on each sentence's own window (``context_windows``) would show every token
    ``2 * context + 1`` times per epoch; chunks cost what sentences alone cost."""
    size = 2 * context + 1
    chunks: list[range] = []
    start = 0
    while start < len(lengths):
        end = start
        while end < len(lengths) and documents[end] == documents[start]:
            end += 1
        first, cut = start, start + rng.randrange(size) + 1
        tokens = 0
        for i in range(start, end):
            if i > first and (i == cut or tokens + lengths[i] > max_tokens):
                chunks.append(range(first, i))
                first, cut, tokens = i, i + size, 0
            tokens += lengths[i]
        chunks.append(range(first, end))
        start = end
    return chunks
