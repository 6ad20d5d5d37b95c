"""The NumPy CRF decoder on packed sentences: many sentences of mixed lengths decode in
one pass exactly as each does alone, and as enumerating every path says."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tagger.crf_decode import constraint_masks, decode_flat, packing, penalised
from tagger.tags import TagScheme

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def _crf(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    k = len(LABELS)
    raw = (rng.normal(size=(k, k)), rng.normal(size=k), rng.normal(size=k))
    return penalised(*(x.astype(np.float32) for x in raw), constraint_masks(LABELS, TagScheme.IOB2))


def _brute_force(emissions: np.ndarray, crf: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[list[int], np.ndarray]:
    """Best path and marginals (T, K) of one sentence, by enumerating every path."""
    trans, start, end = (x.astype(np.float64) for x in crf)
    length, k = emissions.shape
    paths = list(itertools.product(range(k), repeat=length))
    scores = np.array(
        [
            start[p[0]]
            + end[p[-1]]
            + sum(emissions[t, p[t]] for t in range(length))
            + sum(trans[a, b] for a, b in itertools.pairwise(p))
            for p in paths
        ]
    )
    weights = np.exp(scores - scores.max())
    weights /= weights.sum()
    marginals = np.zeros((length, k))
    for w, p in zip(weights, paths, strict=True):
        marginals[np.arange(length), list(p)] += w
    return list(paths[int(scores.argmax())]), marginals


def test_packing_lays_out_steps_longest_sentence_first() -> None:
    packed = packing(np.array([2, 3, 1, 3]))
    assert packed.order.tolist() == [1, 3, 0, 2]  # longest first, ties in input order
    assert packed.counts == [4, 3, 2]  # sentences longer than step 0, 1, 2
    assert packed.offsets == [0, 4, 7]
    # Sentence 0 (rank 2) has steps 0 and 1: rows 0 + 2 and 4 + 2; sentence 2 (rank 3) row 3.
    assert packed.index.tolist() == [2, 6, 0, 4, 7, 3, 1, 5, 8]
    assert packed.ends.tolist() == [7, 8, 6, 3]


@pytest.mark.parametrize("lengths", [[0], [2, 0], []])
def test_packing_refuses_empty_sentences(lengths: list[int]) -> None:
    with pytest.raises(ValueError, match="at least one"):
        packing(np.array(lengths, dtype=np.int64))


def test_packed_decoding_matches_brute_force_on_mixed_lengths() -> None:
    crf = _crf(0)
    rng = np.random.default_rng(1)
    lengths = [3, 1, 4, 2, 4, 1]
    scores = rng.normal(scale=2.0, size=(sum(lengths), len(LABELS))).astype(np.float32)
    paths, probs = decode_flat(scores, np.array(lengths), crf)
    starts = np.cumsum(lengths) - lengths
    for start, length in zip(starts.tolist(), lengths, strict=True):
        want_path, want_marginals = _brute_force(scores[start : start + length].astype(np.float64), crf)
        assert paths[start : start + length].tolist() == want_path
        np.testing.assert_allclose(probs[start : start + length], want_marginals, atol=1e-9)


def test_many_sentences_decode_together_as_each_does_alone() -> None:
    crf = _crf(2)
    rng = np.random.default_rng(3)
    lengths = rng.integers(1, 40, size=200)
    scores = rng.normal(scale=3.0, size=(int(lengths.sum()), len(LABELS))).astype(np.float32)
    paths, probs = decode_flat(scores, lengths, crf)
    start = 0
    for length in lengths.tolist():
        alone_paths, alone_probs = decode_flat(scores[start : start + length], np.array([length]), crf)
        assert paths[start : start + length].tolist() == alone_paths.tolist()
        np.testing.assert_allclose(probs[start : start + length], alone_probs, rtol=0, atol=1e-12)
        start += length
