"""A memo of the character encoder's output per word string, for inference.

A word's character vector depends on its spelling alone, not on its sentence, and word
frequencies are Zipfian: once a few thousand requests have been served, nearly every
token of a new batch ("the", ",", "Monday", "Mr.") has been encoded before. Looking its
vector up instead of running the char-CNN or char-BiLSTM again saves most of the
character encoder's time (the README gives the measured share). Least recently used
words are evicted beyond ``capacity``, and everything is dropped when the encoder's
weights change (training evaluates on dev with the model it is updating; a user may
fine-tune a loaded model), so a vector is never stale.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence

import numpy as np

EncodeFn = Callable[[np.ndarray], np.ndarray]  # row indices (M,) into the batch's distinct words -> (M, D)


class CharVectorCache:
    """``version()`` names the encoder's weights: when it changes, every vector is
    dropped (torch models: the parameters' in-place write counters)."""

    def __init__(self, dim: int, capacity: int, version: Callable[[], Hashable] = lambda: None) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._version = version
        self._weights = version()
        self.table = np.empty((capacity, dim), dtype=np.float32)  # (capacity, D); rows are written before read
        self._slots: OrderedDict[str, int] = OrderedDict()  # word -> row of table, oldest first
        self._lock = threading.Lock()  # a Labeler may be called from several threads
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._slots)

    def vectors(self, words: Sequence[str], encode: EncodeFn) -> np.ndarray:
        """Vectors (U, D) of the distinct ``words``, a new array; ``encode(rows)``
        computes those of the words at ``rows`` that are not cached (at most
        ``capacity`` at a time)."""
        with self._lock:
            weights = self._version()
            if weights != self._weights:
                self._slots.clear()
                self._weights = weights
            slots = [self._slots.get(w, -1) for w in words]
            missing = [i for i, s in enumerate(slots) if s < 0]
            for i, slot in enumerate(slots):
                if slot >= 0:
                    self._slots.move_to_end(words[i])
            self.hits += len(words) - len(missing)
            self.misses += len(missing)
            if len(words) > self.capacity:  # a batch larger than the cache: look up, don't store
                out = np.empty((len(words), self.table.shape[1]), dtype=np.float32)
                out[[i for i, s in enumerate(slots) if s >= 0]] = self.table[[s for s in slots if s >= 0]]
                out[missing] = encode(np.array(missing, dtype=np.int64))
                return out
            if missing:
                fresh = encode(np.array(missing, dtype=np.int64))  # (M, D)
                rows = []
                for i in missing:
                    if len(self._slots) < self.capacity:
                        slot = len(self._slots)
                    else:
                        _, slot = self._slots.popitem(last=False)
                    self._slots[words[i]] = slot
                    slots[i] = slot
                    rows.append(slot)
                self.table[rows] = fresh
            return self.table[slots]  # (U, D)
