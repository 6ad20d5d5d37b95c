"""The Predictor: the one inference path of the project.

It loads model directories once, picks the device and thread count once, sorts
sentences by length, batches them by a token budget, and returns per token a label and
its probability (CRF marginal or softmax) for every model. The HTTP service, the batch
command and ``tagger evaluate`` all call it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from tagger import checkpoint
from tagger.batch import encode, token_budget_batches
from tagger.checkpoint import LoadedModel
from tagger.errors import TaggerError
from tagger.tags import TagScheme, convert

OUTPUT_SCHEME = TagScheme.IOB2  # entity labels leave the predictor in IOB2


@dataclass
class TokenPrediction:
    label: str
    score: float


def pick_device(device: str | None = None) -> torch.device:
    """``cuda`` when available unless told otherwise."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError:
        raise TaggerError(f"unknown device {device!r}; expected auto, cpu, cuda or cuda:N") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise TaggerError(f"device {device!r} requested but CUDA is not available")
    return chosen


class Predictor:
    """Runs one or more loaded models over the same sentences."""

    def __init__(
        self,
        models: Sequence[LoadedModel],
        device: torch.device,
        batch_tokens: int = 4096,
    ) -> None:
        if not models:
            raise TaggerError("no model given")
        names = [m.name for m in models]
        if len(set(names)) != len(names):
            raise TaggerError(f"model names must be unique, got {names}")
        self.models = {m.name: m for m in models}
        self.device = device
        self.batch_tokens = batch_tokens

    @classmethod
    def load(
        cls,
        paths: Sequence[str | Path],
        device: str | None = None,
        threads: int | None = None,
        batch_tokens: int = 4096,
    ) -> Predictor:
        if threads:
            torch.set_num_threads(threads)
        chosen = pick_device(device)
        models = [checkpoint.load(p, chosen) for p in paths]
        return cls(models, chosen, batch_tokens)

    def _select(self, names: Sequence[str] | None) -> list[LoadedModel]:
        if names is None:
            return list(self.models.values())
        unknown = [n for n in names if n not in self.models]
        if unknown:
            raise TaggerError(f"unknown model(s) {unknown}; loaded: {sorted(self.models)}")
        return [self.models[n] for n in names]

    def predict_tokens(
        self, sentences: Sequence[Sequence[str]], models: Sequence[str] | None = None
    ) -> dict[str, list[list[TokenPrediction]]]:
        """Label every token of every sentence with each selected model.

        Empty sentences get empty predictions. Results are in input order.
        """
        selected = self._select(models)
        results: dict[str, list[list[TokenPrediction]]] = {}
        lengths = [len(s) for s in sentences]
        real = [i for i, n in enumerate(lengths) if n > 0]
        batches = token_budget_batches([lengths[i] for i in real], self.batch_tokens)
        with torch.inference_mode():
            for loaded in selected:
                out: list[list[TokenPrediction]] = [[] for _ in sentences]
                for group in batches:
                    idx = [real[g] for g in group]
                    batch = encode([sentences[i] for i in idx], loaded.vocab, loaded.config.model.max_word_chars)
                    paths, confidence = loaded.model.decode(batch.to(self.device))
                    paths_l, conf_l = paths.cpu().tolist(), confidence.float().cpu().tolist()
                    for row, i in enumerate(idx):
                        n = lengths[i]
                        labels = [loaded.vocab.labels[j] for j in paths_l[row][:n]]
                        if loaded.label_scheme not in (TagScheme.NONE, OUTPUT_SCHEME):
                            labels = convert(labels, loaded.label_scheme, OUTPUT_SCHEME)
                        out[i] = [TokenPrediction(lab, s) for lab, s in zip(labels, conf_l[row][:n], strict=True)]
                results[loaded.name] = out
        return results
