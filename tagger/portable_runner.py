"""The ONNX backend's side of the labeler: sentences in, emission scores out, with a memo
of each word's input row. Imports neither torch nor onnxruntime itself."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from tagger.batching import encode_arrays
from tagger.charcache import CharVectorCache
from tagger.device import inference_threads
from tagger.portable import PortableModel, feature_width


class WordRows:
    """A memo of each token string's whole input row for the recurrent layers: its word
    vector, casing vector and character vector (``PortableModel.word_features``).

    All three depend on the token's string alone (in models without sentence casing),
    and the ONNX backend's weights never change, so a row is computed once and looked up
    after: one dict lookup per token replaces the vocabulary lookups, the character grid,
    the character cache and three gathers per batch. Labelling CoNLL-2003 dev x5 on one
    thread, that encoding took 0.12-0.21 s instead of 0.55-0.70 s.

    When the memo is full it starts again empty: words are Zipfian, so the frequent
    ones are back within a batch or two, and a hit costs no bookkeeping, as a
    least-recently-used order would.
    """

    def __init__(self, compute: Callable[[list[str]], np.ndarray], width: int, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._compute = compute  # distinct words -> their rows (U, D)
        self.table = np.empty((capacity, width), dtype=np.float32)  # (capacity, D); rows written before read
        self._rows: dict[str, int] = {}
        self._lock = threading.Lock()  # a Labeler may be called from several threads
        self.hits = 0  # tokens found
        self.misses = 0  # tokens whose rows were computed

    def __len__(self) -> int:
        return len(self._rows)

    def features(self, tokens: Sequence[str]) -> np.ndarray:
        """The rows (N, D) of ``tokens``, a new array."""
        with self._lock:
            get = self._rows.get
            rows = [get(t, -1) for t in tokens]
            missing = rows.count(-1)
            self.hits += len(rows) - missing
            self.misses += missing
            if not missing:
                return self.table[rows]
            new = list(dict.fromkeys(t for t, row in zip(tokens, rows, strict=True) if row < 0))
            if len(self._rows) + len(new) > self.capacity:
                distinct = list(dict.fromkeys(tokens))
                if len(distinct) > self.capacity:  # more words than the memo holds: compute, keep what it has
                    index = {t: i for i, t in enumerate(distinct)}
                    return self._compute(distinct)[[index[t] for t in tokens]]
                self._rows.clear()
                new = distinct
            start = len(self._rows)
            self.table[start : start + len(new)] = self._compute(new)
            self._rows.update(zip(new, range(start, start + len(new)), strict=True))
            return self.table[[get(t, -1) for t in tokens]]


class PortableRunner:
    """The labeler's handle on a ``PortableModel``, with its word memo.

    ONNX Runtime's LSTM runs every padded step, at about the same cost per padded token
    from two sentences a batch up, and one more call costs some 20 tokens' worth on one
    thread (the lookups and the session call), more on several, whose threads must meet
    at every step. Cutting chunks of CoNLL-2003 dev that way labelled 1.4-1.55x faster
    than filling each batch on one thread (best at an overhead of 64 tokens, of 16 to
    2048) and 1.3x on two (best at 512; 64 came second): ``benchmarks/batch_cost.py
    [--threads 2]``.

    An int8 export that runs each sentence alone (``OnnxSession``) pays for padding only
    in the NumPy lookups, so fewer, fuller batches win for it: filled batches labelled
    CoNLL-2003 dev chunks at 52,654 tokens/s against 44,272 at an overhead of 64
    (``batch_cost.py --backend onnx-int8``, one thread, before the anchored exports). An
    anchored int8 export runs batches as the float one does, and the float setting suits
    it too: 59,081 tokens/s at an overhead of 64 against 45,524 filled (same benchmark,
    ``results/batch_cost_onnx-int8_anchored_2026-12-07.json``).
    """

    @property
    def batch_overhead(self) -> float:
        session = self.model.session
        if session is not None and session.per_sentence:
            return float("inf")
        return 64.0 if inference_threads() == 1 else 512.0

    def __init__(self, model: PortableModel, char_cache: int) -> None:
        """``char_cache``: how many distinct words the memo holds (0: none). A model with
        sentence casing, whose rows depend on the sentence, caches character vectors only."""
        self.model = model
        self.cache: WordRows | CharVectorCache | None = None
        if char_cache > 0 and not model.config.model.sentence_casing:
            self.cache = WordRows(model.word_features, feature_width(model.config.model), char_cache)
        elif char_cache > 0 and model.char_dim:
            self.cache = CharVectorCache(model.char_dim, char_cache)

    @property
    def crf_scores(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        return self.model.crf_scores

    def scores(self, sentences: Sequence[Sequence[str]]) -> np.ndarray:
        """Emission scores (N, K) float32 of the tokens of ``sentences`` (each non-empty),
        sentence by sentence."""
        if not isinstance(self.cache, WordRows):
            m = self.model.config.model
            arrays = encode_arrays(sentences, self.model.vocab, m.max_word_chars, sentence_casing=m.sentence_casing)
            return self.model.scores(arrays, self.cache)[arrays.mask]  # (B, T, K) -> (N, K)
        rows = self.cache.features([t for sentence in sentences for t in sentence])  # (N, D)
        lengths = np.array([len(s) for s in sentences], dtype=np.int64)  # (B,)
        mask = np.arange(int(lengths.max()))[None, :] < lengths[:, None]  # (B, T)
        features = np.zeros((*mask.shape, rows.shape[1]), dtype=np.float32)  # (B, T, D)
        features[mask] = rows
        assert self.model.session is not None
        return self.model.session(features, lengths)[mask]  # (B, T, K) -> (N, K)
