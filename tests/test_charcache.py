"""The word caches: the character-vector cache (torch; same vectors as encoding afresh, LRU
eviction) and the ONNX backend's memo of whole input rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tagger.batching import encode_arrays
from tagger.charcache import CharVectorCache
from tagger.labeler import Labeler
from tagger.pipeline import Tagger
from tagger.portable_runner import WordRows
from tagger.torch_runner import weights_version
from tests.conftest import MODELS

VECTORS = {"the": 1.0, "cat": 2.0, "sat": 3.0, "mat": 4.0}


class Encoder:
    """Stands for the char encoder: word -> a vector filled with its number; records calls."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        self.encoded: list[str] = []

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        chosen = [self.words[i] for i in rows.tolist()]
        self.encoded += chosen
        return np.array([[VECTORS[w]] * 3 for w in chosen], dtype=np.float32)


def lookup(cache: CharVectorCache, words: list[str]) -> tuple[list[float], list[str]]:
    encoder = Encoder(words)
    out = cache.vectors(words, encoder)
    assert out.shape == (len(words), 3)
    return out[:, 0].tolist(), encoder.encoded


def test_cached_words_are_not_encoded_again() -> None:
    cache = CharVectorCache(3, capacity=10)
    assert lookup(cache, ["the", "cat"]) == ([1.0, 2.0], ["the", "cat"])
    assert lookup(cache, ["sat", "the", "cat"]) == ([3.0, 1.0, 2.0], ["sat"])
    assert (cache.hits, cache.misses, len(cache)) == (2, 3, 3)


def test_least_recently_used_word_is_evicted() -> None:
    cache = CharVectorCache(3, capacity=2)
    lookup(cache, ["the", "cat"])
    lookup(cache, ["the"])  # "cat" is now the least recently used
    assert lookup(cache, ["sat"]) == ([3.0], ["sat"])
    assert lookup(cache, ["the", "sat"]) == ([1.0, 3.0], [])
    assert lookup(cache, ["cat"]) == ([2.0], ["cat"])


def test_batch_larger_than_the_cache_is_encoded_without_storing() -> None:
    cache = CharVectorCache(3, capacity=2)
    lookup(cache, ["the"])
    assert lookup(cache, ["cat", "the", "sat"]) == ([2.0, 1.0, 3.0], ["cat", "sat"])
    assert len(cache) == 1


def test_changed_weights_empty_the_cache() -> None:
    encoder = torch.nn.Linear(2, 3)  # whose weights the cache watches, as the torch backend's does
    cache = CharVectorCache(3, capacity=10, version=lambda: weights_version(encoder))
    lookup(cache, ["the", "cat"])
    assert lookup(cache, ["the"]) == ([1.0], [])
    with torch.no_grad():
        encoder.weight.add_(1.0)  # as an optimizer step does
    assert lookup(cache, ["the", "cat"]) == ([1.0, 2.0], ["the", "cat"])
    encoder.load_state_dict(torch.nn.Linear(2, 3).state_dict())
    assert lookup(cache, ["cat"]) == ([2.0], ["cat"])


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity must be at least 1"):
        CharVectorCache(3, capacity=0)


def test_predictions_with_the_cache_equal_those_without() -> None:
    paths = [MODELS / "ner-en-conll03", MODELS / "pos-en-ewt"]
    texts = [
        "Angela Merkel visited Paris on Monday.",
        "Paris Hilton visited Angela in Monday's paper.",
        "The U.S. Army said so, and the army said so again.",
    ]
    plain = Tagger.load(paths, device="cpu", char_cache=0)
    cached = Tagger.load(paths, device="cpu", char_cache=12)  # small: evictions happen
    assert not plain.labeler.char_cache_stats() and len(cached.labeler.char_cache_stats()) == 2
    want = [plain.tag([t])[0] for t in texts]
    for _ in range(2):  # cold, then warm
        got = [cached.tag([t])[0] for t in texts]
        for a, b in zip(got, want, strict=True):
            assert [(e.text, e.label, e.start, e.end, e.model) for e in a.entities] == [
                (e.text, e.label, e.start, e.end, e.model) for e in b.entities
            ]
            assert [e.score for e in a.entities] == pytest.approx([e.score for e in b.entities], abs=1e-5)
            tokens_a = [t for s in a.sentences for t in s]
            tokens_b = [t for s in b.sentences for t in s]
            assert [{m: x.label for m, x in t.labels.items()} for t in tokens_a] == [
                {m: x.label for m, x in t.labels.items()} for t in tokens_b
            ]
            scores_a = [x.score for t in tokens_a for x in t.labels.values()]
            assert scores_a == pytest.approx([x.score for t in tokens_b for x in t.labels.values()], abs=1e-5)
    assert all(hits > 0 and 0 < held <= 12 for hits, _, held in cached.labeler.char_cache_stats().values())


def test_labeler_never_serves_vectors_of_older_weights() -> None:
    cached = Tagger.load(MODELS / "pos-en-ewt", device="cpu", backend="torch")  # weights that change: torch
    loaded = cached.models["pos-en-ewt"]
    plain = Tagger(Labeler([loaded], torch.device("cpu"), char_cache=0))  # the same model object
    text = ["Colorless green ideas sleep furiously in Xyzzyville."]
    before = [t.labels["pos-en-ewt"].score for s in cached.tag(text)[0].sentences for t in s]
    assert loaded.model.char_encoder is not None
    with torch.no_grad():  # as a training step would
        for p in loaded.model.char_encoder.parameters():
            p.mul_(-3.0)
    after = [t.labels["pos-en-ewt"].score for s in cached.tag(text)[0].sentences for t in s]
    want = [t.labels["pos-en-ewt"].score for s in plain.tag(text)[0].sentences for t in s]
    assert after == pytest.approx(want, abs=1e-5)
    assert after != pytest.approx(before, abs=1e-3)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_no_vectors_of_older_weights_after_a_training_step(optimizer: str) -> None:
    """Training scores dev after each epoch through a labeler with this cache: the fused
    step training takes leaves the weights' version counters as they were, and vectors
    of the first epoch's character encoder were served to every later epoch's dev score
    (so early stopping and the best epoch were chosen on wrong scores)."""
    from tagger.config import TrainConfig
    from tagger.train import make_optimizer

    cached = Tagger.load(MODELS / "pos-en-ewt", device="cpu", backend="torch")
    loaded = cached.models["pos-en-ewt"]
    plain = Tagger(Labeler([loaded], torch.device("cpu"), char_cache=0))  # the same model object
    text = ["Colorless green ideas sleep furiously in Xyzzyville."]
    before = [t.labels["pos-en-ewt"].score for s in cached.tag(text)[0].sentences for t in s]
    encoder = loaded.model.char_encoder
    assert encoder is not None
    params = list(encoder.parameters())
    step = make_optimizer(params, TrainConfig(optimizer=optimizer, lr=0.5))  # type: ignore[arg-type]
    for p in params:
        p.grad = torch.ones_like(p)
    step.step()
    after = [t.labels["pos-en-ewt"].score for s in cached.tag(text)[0].sentences for t in s]
    want = [t.labels["pos-en-ewt"].score for s in plain.tag(text)[0].sentences for t in s]
    assert after != pytest.approx(before, abs=1e-3)  # the step changed the scores
    assert after == pytest.approx(want, abs=1e-5)


class Rows:
    """Stands for ``PortableModel.word_features``: word -> its number in every column; records calls."""

    def __init__(self) -> None:
        self.computed: list[list[str]] = []

    def __call__(self, words: list[str]) -> np.ndarray:
        self.computed.append(words)
        return np.array([[VECTORS[w]] * 2 for w in words], dtype=np.float32)


def test_word_rows_compute_each_distinct_word_once() -> None:
    compute = Rows()
    memo = WordRows(compute, width=2, capacity=10)
    assert memo.features(["the", "cat", "the"])[:, 0].tolist() == [1.0, 2.0, 1.0]
    assert memo.features(["cat", "sat", "the"])[:, 0].tolist() == [2.0, 3.0, 1.0]
    assert compute.computed == [["the", "cat"], ["sat"]]
    assert (memo.hits, memo.misses, len(memo)) == (2, 4, 3)  # per token


def test_a_full_word_memo_starts_again_with_the_words_it_is_asked_for() -> None:
    compute = Rows()
    memo = WordRows(compute, width=2, capacity=3)
    memo.features(["the", "cat", "sat"])
    got = memo.features(["mat", "the"])  # one more word than fits: emptied, then both stored
    assert got[:, 0].tolist() == [4.0, 1.0]
    assert compute.computed[-1] == ["mat", "the"] and len(memo) == 2
    wide = memo.features(["the", "cat", "sat", "mat", "cat"])  # more distinct words than it holds
    assert wide[:, 0].tolist() == [1.0, 2.0, 3.0, 4.0, 2.0]
    assert compute.computed[-1] == ["the", "cat", "sat", "mat"] and len(memo) == 2  # kept what it had
    memo.features(["mat", "the"])
    assert compute.computed[-1] == ["the", "cat", "sat", "mat"]  # both still held: nothing computed


def test_word_rows_are_the_rows_a_batch_gives() -> None:
    """The memo's row of a word equals what the batch path feeds the export, bit for bit."""
    loaded = Tagger.load(MODELS / "ner-en-conll03", device="cpu", backend="onnx").models["ner-en-conll03"]
    sentences = [["Angela", "Merkel", "visited", "Paris", "."], ["The", "U.S.", "Army", "said", "so", "."]]
    arrays = encode_arrays(sentences, loaded.vocab, loaded.config.model.max_word_chars)
    batch = loaded.features(arrays)[arrays.mask]  # type: ignore[attr-defined]  # (N, D)
    memo = WordRows(loaded.word_features, width=batch.shape[1], capacity=100)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(memo.features([t for s in sentences for t in s]), batch)
