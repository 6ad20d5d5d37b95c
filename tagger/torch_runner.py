"""The torch backend's side of the labeler: sentences in, emission scores out, on CPU
or CUDA. Imported only when a model runs on torch."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import torch
from torch import nn

from tagger.batch import Batch
from tagger.batching import Arrays, encode_arrays
from tagger.charcache import CharVectorCache
from tagger.checkpoint import LoadedModel


def weights_version(module: nn.Module) -> Hashable:
    """Changes whenever a weight is modified in place (an optimizer step, a
    ``load_state_dict``) or replaced.

    torch's count of in-place writes per tensor (``_version``) is not enough: a fused
    optimizer step (``fused=True``, which training uses) writes the weights without
    counting. So this adds a checksum of the values (their sum and sum of squares, in
    float64): the character encoder is small (7k-35k numbers), so this costs some
    microseconds per batch, and one device sync on CUDA."""
    params = list(module.parameters())
    if not params:
        return ()
    with torch.no_grad():
        flat = torch.cat([p.detach().reshape(-1) for p in params]).double()
        checksum = torch.stack([flat.sum(), flat.square().sum()]).tolist()
    return (tuple((id(p), p._version) for p in params), tuple(checksum))


class TorchRunner:
    """The labeler's handle on a torch model, with its word cache.

    The recurrent layers run packed, so padding costs only the lookups,
    while one more batch costs some 70 tokens' worth on one CPU core: on CPU, batches
    are filled nearly to the token budget and cut early only where that saves much
    padding (on CoNLL-2003 dev chunks, overheads of 256 to 2048 tokens were alike and
    10-15% faster than filling each batch: ``benchmarks/batch_cost.py --backend
    torch``). On CUDA, where a batch costs a kernel launch per step and a padded token
    almost nothing, each batch is filled (not measured here: no GPU was lent).
    """

    @property
    def batch_overhead(self) -> float:
        return 1024.0 if self.device.type == "cpu" else float("inf")

    def __init__(self, loaded: LoadedModel, device: torch.device, char_cache: int) -> None:
        self.loaded, self.device = loaded, device
        encoder = loaded.model.char_encoder
        self.cache: CharVectorCache | None = None
        if encoder is not None and char_cache > 0:
            self.cache = CharVectorCache(encoder.out_dim, char_cache, lambda: weights_version(encoder))

    def _inputs(self, arrays: Arrays) -> tuple[Batch, torch.Tensor | None]:
        """The batch on the device, and its words' character vectors from the cache."""
        model = self.loaded.model
        batch = Batch.from_arrays(arrays).to(self.device)
        if self.cache is None:
            return batch, None

        def encode(rows: np.ndarray) -> np.ndarray:
            return model.char_vectors(batch, torch.from_numpy(rows)).float().cpu().numpy()

        return batch, torch.from_numpy(self.cache.vectors(batch.distinct, encode)).to(self.device)  # (U, Dc)

    def scores(self, sentences: Sequence[Sequence[str]]) -> np.ndarray:
        """Emission scores (N, K) float32 of the tokens of ``sentences`` (each non-empty),
        sentence by sentence, before the CRF."""
        m = self.loaded.config.model
        arrays = encode_arrays(sentences, self.loaded.vocab, m.max_word_chars, sentence_casing=m.sentence_casing)
        with torch.inference_mode():  # per thread: models may run in the labeler's pool
            scores = self.loaded.model.emissions(*self._inputs(arrays)).float().cpu().numpy()  # (B, T, K)
        return scores[arrays.mask]  # type: ignore[no-any-return]

    @property
    def crf_scores(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The CRF's transitions, start and end scores with its penalties, as NumPy decodes them."""
        crf = self.loaded.model.crf
        if crf is None:
            return None
        with torch.no_grad():
            trans, start, end = (x.detach().float().cpu().numpy() for x in crf._scores())
        return trans, start, end
