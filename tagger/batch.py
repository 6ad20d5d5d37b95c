"""A batch as torch tensors, for training and the torch backend: the NumPy arrays of
``tagger.batching`` wrapped without copying."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from tagger.batching import Arrays, encode_arrays
from tagger.vocab import Vocab


@dataclass
class Batch:
    words: Tensor  # (B, T) word ids, 0 = padding
    casings: Tensor  # (B, T) casing ids
    chars: Tensor  # (U, L) char ids of the U distinct token strings in the batch
    char_lengths: Tensor  # (U,)
    char_rows: Tensor  # (N,) row of ``chars`` for each of the N real tokens, row-major over (B, T)
    mask: Tensor  # (B, T) bool, true on real tokens
    lengths: Tensor  # (B,) sentence lengths, cpu
    labels: Tensor | None = None  # (B, T) label ids, 0 on padding
    distinct: list[str] = field(default_factory=list)  # the U token strings of ``chars``
    # Training only: (B, T) bool, true where a token sees its word's pretrained vector
    # instead of the fine-tuned one (``TrainConfig.vector_dropout``).
    original_words: Tensor | None = None
    # Training with teachers only: (B, T, K) their probability of each label at each
    # token (``tagger.distil``), 0 on padding.
    soft_labels: Tensor | None = None

    def to(self, device: torch.device) -> Batch:
        return Batch(
            self.words.to(device),
            self.casings.to(device),
            self.chars.to(device),
            self.char_lengths,
            self.char_rows.to(device),
            self.mask.to(device),
            self.lengths,
            None if self.labels is None else self.labels.to(device),
            self.distinct,
            None if self.original_words is None else self.original_words.to(device),
            None if self.soft_labels is None else self.soft_labels.to(device),
        )

    @classmethod
    def from_arrays(cls, arrays: Arrays) -> Batch:
        labels = None if arrays.labels is None else torch.from_numpy(arrays.labels)
        return cls(
            torch.from_numpy(arrays.words),
            torch.from_numpy(arrays.casings),
            torch.from_numpy(arrays.chars),
            torch.from_numpy(arrays.char_lengths),
            torch.from_numpy(arrays.char_rows),
            torch.from_numpy(arrays.mask),
            torch.from_numpy(arrays.lengths),
            labels,
            arrays.distinct,
        )


def encode(
    sentences: Sequence[Sequence[str]],
    vocab: Vocab,
    max_word_chars: int,
    labels: Sequence[Sequence[str]] | None = None,
    sentence_casing: bool = False,
) -> Batch:
    """``tagger.batching.encode_arrays`` as tensors."""
    return Batch.from_arrays(encode_arrays(sentences, vocab, max_word_chars, labels, sentence_casing))
