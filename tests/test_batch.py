from __future__ import annotations

import random
from collections import Counter

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tagger.batch import encode
from tagger.batching import (
    Window,
    bucketed_batches,
    context_chunks,
    context_windows,
    token_budget_batches,
)
from tagger.vocab import CASINGS, UNCASED, Vocab, build_vocab


@pytest.fixture
def vocab() -> Vocab:
    tokens = ["The", "cat", "sat", "the", "cat", "."]
    return build_vocab(tokens, ["O", "B-PER", "I-PER"], min_count=1)


# --- encode -------------------------------------------------------------------------------------------------------


def test_encode_pads_words_and_casings(vocab: Vocab) -> None:
    batch = encode([["The", "cat", "sat"], ["cat", "."]], vocab, max_word_chars=32)
    w = vocab.word_index
    assert batch.words.tolist() == [[w["the"], w["cat"], w["sat"]], [w["cat"], w["."], 0]]
    c = CASINGS.index
    assert batch.casings.tolist() == [[c("title"), c("lower"), c("lower")], [c("lower"), c("other"), 0]]
    assert batch.mask.tolist() == [[True, True, True], [True, True, False]]
    assert batch.mask.dtype == torch.bool
    assert batch.lengths.tolist() == [3, 2]
    assert batch.labels is None


def test_encode_sentence_casing_marks_each_single_case_row(vocab: Vocab) -> None:
    rows = [["the", "cat"], ["The", "cat"], ["THE", "CAT", "."]]
    c = CASINGS.index
    assert encode(rows, vocab, 32).casings.tolist() == [
        [c("lower"), c("lower"), 0],
        [c("title"), c("lower"), 0],
        [c("upper"), c("upper"), c("other")],
    ]
    assert encode(rows, vocab, 32, sentence_casing=True).casings.tolist() == [
        [UNCASED, UNCASED, 0],
        [c("title"), c("lower"), 0],
        [UNCASED, UNCASED, c("other")],
    ]


def test_encode_unknown_word_is_one(vocab: Vocab) -> None:
    batch = encode([["dog"]], vocab, max_word_chars=32)
    assert batch.words.tolist() == [[1]]


def test_encode_char_rows_map_tokens_to_distinct_strings(vocab: Vocab) -> None:
    sentences = [["The", "cat", "sat"], ["cat", ".", "The"]]
    batch = encode(sentences, vocab, max_word_chars=32)
    # Distinct strings in order of first appearance; case matters for characters.
    assert batch.distinct == ["The", "cat", "sat", "."]
    tokens = [t for s in sentences for t in s]
    assert batch.char_rows.tolist() == [batch.distinct.index(t) for t in tokens]
    assert batch.char_rows.tolist() == [0, 1, 2, 1, 3, 0]
    assert batch.chars.shape == (4, 3)
    assert batch.char_lengths.tolist() == [3, 3, 3, 1]
    for row, word in enumerate(batch.distinct):
        ids = [vocab.char_index[ch] for ch in word]
        assert batch.chars[row].tolist() == ids + [0] * (3 - len(ids))


def test_encode_truncates_chars_and_maps_unknown_chars(vocab: Vocab) -> None:
    batch = encode([["cats", "xyz"]], vocab, max_word_chars=2)
    ci = vocab.char_index
    assert batch.chars.tolist() == [[ci["c"], ci["a"]], [1, 1]]
    assert batch.char_lengths.tolist() == [2, 2]


def test_encode_labels_tensor(vocab: Vocab) -> None:
    labels = [["B-PER", "I-PER", "O"], ["O"]]
    batch = encode([["The", "cat", "sat"], ["."]], vocab, max_word_chars=32, labels=labels)
    assert batch.labels is not None
    li = vocab.label_index
    assert batch.labels.tolist() == [[li["B-PER"], li["I-PER"], li["O"]], [li["O"], 0, 0]]
    assert batch.labels[batch.mask].tolist() == [li[t] for tags in labels for t in tags]


def test_encode_unknown_label_is_an_error(vocab: Vocab) -> None:
    with pytest.raises(KeyError):
        encode([["cat"]], vocab, max_word_chars=32, labels=[["B-LOC"]])


# --- token_budget_batches -----------------------------------------------------------------------------------------


def test_token_budget_batches_longest_first_and_within_budget() -> None:
    lengths = [3, 10, 1, 7, 7, 2]
    batches = token_budget_batches(lengths, max_tokens=20)
    assert batches == [[1, 3], [4, 0], [5, 2]]
    for batch in batches:
        assert len(batch) * max(lengths[i] for i in batch) <= 20


def test_token_budget_batches_lone_oversized_sentence() -> None:
    lengths = [50, 5, 5]
    batches = token_budget_batches(lengths, max_tokens=10)
    assert batches == [[0], [1, 2]]


def test_token_budget_batches_max_sentences() -> None:
    batches = token_budget_batches([1] * 7, max_tokens=1000, max_sentences=3)
    assert [len(b) for b in batches] == [3, 3, 1]
    assert sorted(i for b in batches for i in b) == list(range(7))


def test_token_budget_batches_empty() -> None:
    assert token_budget_batches([]) == []


@settings(max_examples=200, deadline=None)
@given(
    lengths=st.lists(st.integers(min_value=1, max_value=60), max_size=40),
    max_tokens=st.integers(min_value=1, max_value=200),
    max_sentences=st.integers(min_value=1, max_value=10),
)
def test_token_budget_batches_properties(lengths: list[int], max_tokens: int, max_sentences: int) -> None:
    batches = token_budget_batches(lengths, max_tokens, max_sentences)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths, reverse=True)
    for batch in batches:
        assert batch
        assert len(batch) <= max_sentences
        padded = len(batch) * max(lengths[i] for i in batch)
        assert padded <= max_tokens or len(batch) == 1


def _cost(batches: list[list[int]], lengths: list[int], overhead: float) -> float:
    return sum(overhead + len(b) * max(lengths[i] for i in b) for b in batches)


def test_token_budget_batches_cut_where_length_drops_when_batches_are_cheap() -> None:
    lengths = [40, 2, 40, 3, 2, 39]
    # Filled: one batch padded to 6 x 40 = 240 tokens. With an overhead of 8 tokens a
    # batch, the long and the short sentences go apart: 3 x 40 + 3 x 3 + 2 x 8 = 145.
    assert token_budget_batches(lengths, max_tokens=4096) == [[0, 2, 5, 3, 1, 4]]
    assert token_budget_batches(lengths, max_tokens=4096, batch_overhead=8) == [[0, 2, 5], [3, 1, 4]]
    # Dear batches keep them together: 240 + 150 < 129 + 2 x 150.
    assert token_budget_batches(lengths, max_tokens=4096, batch_overhead=150) == [[0, 2, 5, 3, 1, 4]]


def test_token_budget_batches_dear_batches_are_as_few_as_the_budget_allows() -> None:
    lengths = [10] * 5 + [1] * 50
    # Filling gives [10 x 5 + 1 x 5 (padded to 100)], [1 x 45]; as few batches, less padding:
    # [10 x 5], [1 x 50].
    assert [len(b) for b in token_budget_batches(lengths, max_tokens=100)] == [10, 45]
    assert [len(b) for b in token_budget_batches(lengths, max_tokens=100, batch_overhead=1e9)] == [5, 50]


@settings(max_examples=200, deadline=None)
@given(
    lengths=st.lists(st.integers(min_value=1, max_value=30), min_size=1, max_size=9),
    max_tokens=st.integers(min_value=1, max_value=80),
    overhead=st.sampled_from([0.0, 1.0, 7.5, 64.0, 1e9]),
)
def test_token_budget_batches_is_the_cheapest_grouping_of_the_sorted_order(
    lengths: list[int], max_tokens: int, overhead: float
) -> None:
    """Against every way of cutting the sorted order into batches within the cap."""
    batches = token_budget_batches(lengths, max_tokens, batch_overhead=overhead)
    flat = [i for b in batches for i in b]
    assert [lengths[i] for i in flat] == sorted(lengths, reverse=True)
    for batch in batches:
        assert len(batch) * lengths[batch[0]] <= max_tokens or len(batch) == 1
    n, best = len(flat), float("inf")
    for cuts in range(2 ** (n - 1)):  # bit k set: a batch ends after position k
        groups, start = [], 0
        for k in range(n):
            if k == n - 1 or cuts >> k & 1:
                groups.append(flat[start : k + 1])
                start = k + 1
        if all(len(g) * lengths[g[0]] <= max_tokens or len(g) == 1 for g in groups):
            best = min(best, _cost(groups, lengths, overhead))
    assert _cost(batches, lengths, overhead) == pytest.approx(best)
    filled = token_budget_batches(lengths, max_tokens)
    assert _cost(batches, lengths, overhead) <= _cost(filled, lengths, overhead) + 1e-6


# --- bucketed_batches ---------------------------------------------------------------------------------------------


def test_bucketed_batches_every_index_once_and_sizes() -> None:
    lengths = [random.Random(0).randint(1, 40) for _ in range(23)]
    batches = bucketed_batches(lengths, 5, random.Random(3))
    assert sorted(i for b in batches for i in b) == list(range(23))
    assert Counter(len(b) for b in batches) == Counter({5: 4, 3: 1})


def test_bucketed_batches_groups_similar_lengths() -> None:
    lengths = [1] * 10 + [100] * 10
    for batch in bucketed_batches(lengths, 10, random.Random(0)):
        assert len({lengths[i] for i in batch}) == 1


def test_bucketed_batches_deterministic_for_a_seed() -> None:
    lengths = list(range(1, 50))
    first = bucketed_batches(lengths, 4, random.Random(7))
    second = bucketed_batches(lengths, 4, random.Random(7))
    assert first == second
    rng = random.Random(7)
    epoch1, epoch2 = bucketed_batches(lengths, 4, rng), bucketed_batches(lengths, 4, rng)
    assert epoch1 != epoch2  # one generator across epochs: batches vary


# --- context_windows ----------------------------------------------------------------------------------------------


def test_context_zero_is_each_sentence_alone() -> None:
    windows = context_windows([3, 4, 5], [0, 0, 0], context=0)
    assert windows == [Window(0, 1, 0), Window(1, 2, 1), Window(2, 3, 2)]


def test_context_grows_symmetrically() -> None:
    windows = context_windows([2] * 7, [0] * 7, context=2, max_tokens=100)
    assert windows[3] == Window(1, 6, 3)
    assert windows[0] == Window(0, 3, 0)  # nothing on the left: up to 2 on the right only
    assert windows[6] == Window(4, 7, 6)


def test_context_windows_stop_at_document_boundaries() -> None:
    documents = [0, 0, 1, 1, 1]
    windows = context_windows([2] * 5, documents, context=3, max_tokens=100)
    assert windows == [
        Window(0, 2, 0),
        Window(0, 2, 1),
        Window(2, 5, 2),
        Window(2, 5, 3),
        Window(2, 5, 4),
    ]


def test_context_windows_respect_max_tokens() -> None:
    # 10 + 10 (left) = 20; adding the right one (30) would pass 25.
    windows = context_windows([10, 10, 10], [0, 0, 0], context=1, max_tokens=25)
    assert windows[1] == Window(0, 2, 1)
    # A sentence longer than the budget still gets its own window.
    assert context_windows([5, 40, 5], [0, 0, 0], context=2, max_tokens=30)[1] == Window(1, 2, 1)


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 2)), max_size=30),
    context=st.integers(0, 4),
    max_tokens=st.integers(1, 80),
)
def test_context_windows_properties(data: list[tuple[int, int]], context: int, max_tokens: int) -> None:
    lengths = [n for n, _ in data]
    # Sorted document ids: each document is a contiguous run of sentences.
    documents = sorted(d for _, d in data)
    windows = context_windows(lengths, documents, context, max_tokens)
    assert [w.centre for w in windows] == list(range(len(lengths)))
    for w in windows:
        i = w.centre
        assert w.first <= i < w.last
        assert {documents[j] for j in range(w.first, w.last)} == {documents[i]}
        size = sum(lengths[w.first : w.last])
        assert size <= max_tokens or (w.first, w.last) == (i, i + 1)
        left, right = i - w.first, w.last - i - 1
        assert left <= context and right <= context
        if context == 0:
            assert (w.first, w.last) == (i, i + 1)
        # A side that stopped short of ``context`` could not grow any further.
        if left < context and w.first > 0:
            assert documents[w.first - 1] != documents[i] or size + lengths[w.first - 1] > max_tokens
        if right < context and w.last < len(lengths):
            assert documents[w.last] != documents[i] or size + lengths[w.last] > max_tokens


# --- context_chunks -----------------------------------------------------------------------------------------------


def test_context_chunks_cover_each_sentence_once_in_order() -> None:
    chunks = context_chunks([2] * 8, [0] * 5 + [1] * 3, context=1, rng=random.Random(0))
    assert [i for c in chunks for i in c] == list(range(8))
    assert all(len(c) <= 3 for c in chunks)
    # No chunk crosses from document 0 into document 1.
    assert all(set(c) <= set(range(5)) or set(c) <= set(range(5, 8)) for c in chunks)


def test_context_chunks_move_between_epochs() -> None:
    rng = random.Random(0)
    cuts = {tuple(c.start for c in context_chunks([2] * 30, [0] * 30, context=2, rng=rng)) for _ in range(10)}
    assert len(cuts) > 1  # the first cut is drawn per epoch


def test_context_chunks_respect_max_tokens() -> None:
    chunks = context_chunks([10, 10, 10, 10], [0] * 4, context=2, rng=random.Random(1), max_tokens=25)
    assert all(sum(10 for _ in c) <= 25 for c in chunks)
    # A sentence longer than the budget is a chunk of its own.
    chunks = context_chunks([5, 40, 5], [0] * 3, context=2, rng=random.Random(1), max_tokens=30)
    assert range(1, 2) in chunks


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(1, 30), st.integers(0, 3)), max_size=40),
    context=st.integers(1, 4),
    max_tokens=st.integers(1, 80),
    seed=st.integers(0, 1000),
)
def test_context_chunks_properties(data: list[tuple[int, int]], context: int, max_tokens: int, seed: int) -> None:
    lengths = [n for n, _ in data]
    documents = sorted(d for _, d in data)
    chunks = context_chunks(lengths, documents, context, random.Random(seed), max_tokens)
    assert [i for c in chunks for i in c] == list(range(len(lengths)))
    for c in chunks:
        assert 1 <= len(c) <= 2 * context + 1
        assert len({documents[i] for i in c}) == 1
        assert len(c) == 1 or sum(lengths[i] for i in c) <= max_tokens
