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
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

EncodeFn = Callable[[Tensor], Tensor]  # row indices into the batch's distinct words -> (M, D)


class CharVectorCache:
    def __init__(self, encoder: nn.Module, dim: int, capacity: int, device: torch.device) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.encoder = encoder
        self._weights = self._weights_key()
        self.table = torch.empty(capacity, dim, device=device)  # (capacity, D); rows are written before read
        self._slots: OrderedDict[str, int] = OrderedDict()  # word -> row of table, oldest first
        self._lock = threading.Lock()  # a Labeler may be called from several threads
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._slots)

    def vectors(self, words: Sequence[str], encode: EncodeFn) -> Tensor:
        """Vectors (U, D) of the distinct ``words``; ``encode(rows)`` computes those of
        the words at ``rows`` that are not cached (at most ``capacity`` at a time)."""
        with self._lock:
            weights = self._weights_key()
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
                out = self.table.new_empty(len(words), self.table.size(1))
                out[[i for i, s in enumerate(slots) if s >= 0]] = self.table[[s for s in slots if s >= 0]]
                out[missing] = encode(torch.tensor(missing))
                return out
            if missing:
                fresh = encode(torch.tensor(missing))  # (M, D)
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

    def _weights_key(self) -> tuple[tuple[int, int], ...]:
        """Changes whenever a weight is modified in place (an optimizer step, a
        ``load_state_dict``) or replaced: torch counts in-place writes per tensor."""
        return tuple((id(p), p._version) for p in self.encoder.parameters())
