"""The labeler: loaded models + a device -> a label and its probability for every token
of batches of token sequences. No tokenization, no process-wide settings (entry points
set the threads), nothing about documents beyond which sentences are neighbours.

Sentences are sorted by length and batched under one padded-token budget
(``batching.DEFAULT_BATCH_TOKENS``). A model whose config asks for document context
(``context_sentences``) runs over each sentence together with its neighbours from the
same document and keeps the labels of the centre sentence only.

Each model runs on a backend: torch (``tagger.torch_runner``, CPU or CUDA) or ONNX
Runtime with NumPy (``tagger.portable``, CPU). This module imports neither torch nor
onnxruntime itself: a labeler on the ONNX backend never loads torch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from tagger.batching import DEFAULT_BATCH_TOKENS, Arrays, Window, context_windows, encode_arrays, token_budget_batches
from tagger.charcache import CharVectorCache
from tagger.consistency import TokenPlace, add_type_bonus, label_types
from tagger.crf_decode import chosen_probability, decode_probs, decode_scores
from tagger.device import cpu_has_vnni, cuda_possible
from tagger.document import TokenLabel, rounded_scores
from tagger.errors import ModelDirError, TaggerError
from tagger.modelfiles import ModelFiles
from tagger.portable import (
    INT8_FILE,
    ONNX_FILE,
    PortableModel,
    PortableRunner,
    StaleExportError,
    onnx_runtime_available,
)
from tagger.tags import TagScheme, convert

if TYPE_CHECKING:
    import torch

Backend = Literal["auto", "torch", "onnx", "onnx-int8"]
BACKENDS: tuple[Backend, ...] = ("auto", "torch", "onnx", "onnx-int8")
# What "auto" takes on CPU, in order, where onnxruntime is installed and every model
# directory has the export (else torch). int8 first where the CPU has VNNI: there ONNX
# Runtime's int8 LSTM with range anchors (``tagger.onnx_anchors``) ran CoNLL-2003 dev's
# batches 2.1x faster than the float one (2-core AMD EPYC), and ``tagger tag`` 1.4x.
# Its scores differ from the float model's by quantization (entity F1 at most 0.0012
# lower on dev, re-cased dev and the held-out slice of three CoNLL-2003 runs), but like
# them never depend on the batch, the threads or the server's load. ``--backend onnx`` gives
# torch's scores to 6 digits. README, "Inference backends", has the measurements.
AUTO_CPU: tuple[Backend, ...] = ("onnx-int8", "onnx")
BACKEND_HELP = (
    "auto (default): on CPU, onnx-int8 where the CPU has VNNI, else onnx, where onnxruntime "
    "is installed and the models have the exports, else torch; torch; onnx (ONNX Runtime, "
    "float: torch's scores); onnx-int8 (int8 weights: faster, scores within 0.002 F1) "
    "(the onnx backends: CPU, exports from tagger export-onnx)"
)
_ONNX_FILES = {"onnx": ONNX_FILE, "onnx-int8": INT8_FILE}
OUTPUT_SCHEME = TagScheme.IOB2  # entity labels leave the labeler in IOB2
CHAR_CACHE_WORDS = 50_000  # distinct words whose character vectors each model keeps
log = logging.getLogger("tagger")


class Runner(Protocol):
    """One model on one backend: a batch in, best label ids (B, T) and their
    probabilities (B, T) out."""

    cache: CharVectorCache | None

    @property
    def batch_overhead(self) -> float:
        """What one more batch costs, in padded tokens: how ``token_budget_batches``
        trades fewer batches against less padding on this backend."""
        ...

    def decode(self, arrays: Arrays) -> tuple[np.ndarray, np.ndarray]: ...

    def scores(self, arrays: Arrays) -> np.ndarray:
        """Emission scores (B, T, K) float32, before the CRF (or the softmax)."""
        ...

    @property
    def crf_scores(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The CRF's penalised transitions, start and end scores (``crf_decode.penalised``);
        None for a softmax head."""
        ...


class Labeler:
    """Runs one or more loaded models over the same sentences."""

    def __init__(
        self,
        models: Sequence[ModelFiles],
        device: str | torch.device = "cpu",
        batch_tokens: int = DEFAULT_BATCH_TOKENS,
        parallel_models: bool = False,
        char_cache: int = CHAR_CACHE_WORDS,
    ) -> None:
        """``models``: ``checkpoint.LoadedModel`` (torch, on ``device``) or
        ``portable.PortableModel`` (ONNX Runtime, CPU)."""
        if not models:
            raise TaggerError("no model given")
        if batch_tokens < 1:
            raise TaggerError(f"batch_tokens must be at least 1, got {batch_tokens}")
        names = [m.name for m in models]
        if len(set(names)) != len(names):
            raise TaggerError(f"model names must be unique, got {names}")
        self.models = {m.name: m for m in models}
        self.device = str(device)  # "cpu", "cuda", "cuda:1"
        self.batch_tokens = batch_tokens
        self._runners = {m.name: _runner(m, device, char_cache) for m in models}
        # With several models, each can run in its own thread: torch and ONNX Runtime
        # release the GIL inside their kernels, so two LSTMs use two cores at once. Worth
        # it in a server, whose one inference thread would otherwise use one core; not in
        # ``tagger tag``, whose worker processes already fill the cores.
        self._pool = ThreadPoolExecutor(len(models), "model") if parallel_models and len(models) > 1 else None

    @classmethod
    def load(
        cls,
        paths: str | Path | Sequence[str | Path],
        device: str | None = None,
        batch_tokens: int = DEFAULT_BATCH_TOKENS,
        parallel_models: bool = False,
        char_cache: int = CHAR_CACHE_WORDS,
        backend: Backend = "auto",
    ) -> Labeler:
        """``backend``: "torch"; "onnx" or "onnx-int8" (CPU only, the model directory's
        recurrent.onnx or recurrent-int8.onnx, without loading torch); "auto": the first
        of ``AUTO_CPU`` this CPU suits and every directory has an export for, else torch."""
        if isinstance(paths, (str, Path)):
            paths = [paths]
        chosen = _resolve_backend(backend, device, [Path(p) for p in paths])
        stale: ModelDirError | None = None
        if chosen != "torch":
            if device not in (None, "auto", "cpu"):
                raise TaggerError(f"the {chosen} backend runs on CPU only, not {device}; use --backend torch or auto")
            for candidate in _auto_exports(device, [Path(p) for p in paths]) if backend == "auto" else [chosen]:
                try:
                    portable = [PortableModel.load(p, _ONNX_FILES[candidate]) for p in paths]
                    if backend == "auto" and any(m.session and m.session.beyond_tolerance for m in portable):
                        continue  # it scored too far from the float export on dev when exported
                    return cls(portable, "cpu", batch_tokens, parallel_models, char_cache)
                except StaleExportError as exc:
                    if backend != "auto":
                        raise
                    stale = exc  # weights retrained since this export: auto tries the next, then torch
        try:
            import torch  # noqa: F401
        except ImportError:
            if stale is not None:
                raise stale from None
            if backend == "torch" or device not in (None, "auto", "cpu"):
                needs = "the torch backend" if backend == "torch" else f"device {device}"
                raise TaggerError(f"torch is not installed: {needs} needs it (pip install torch==2.13.0)") from None
            if not onnx_runtime_available():
                raise TaggerError(
                    "neither torch nor onnxruntime is installed: pip install torch==2.13.0, "
                    "or pip install 'tagger[onnx]' to run models that have ONNX exports"
                ) from None
            missing = ", ".join(str(p) for p in paths if not (Path(p) / ONNX_FILE).is_file()) or "each model"
            raise TaggerError(
                f"torch is not installed, and the onnx backends need {ONNX_FILE} in {missing} "
                "(make it with `tagger export-onnx` where torch is installed), or install torch"
            ) from None
        if stale is not None:
            log.warning("%s; running on torch instead", stale)
        from tagger import checkpoint
        from tagger.device import pick_device

        torch_device = pick_device(device)
        models = [checkpoint.load(p, torch_device) for p in paths]
        return cls(models, torch_device, batch_tokens, parallel_models, char_cache)

    def backend(self, name: str) -> Backend:
        """What model ``name`` runs on: "torch", "onnx" or "onnx-int8"."""
        model = self.models[name]
        if not isinstance(model, PortableModel):
            return "torch"
        return "onnx-int8" if model.session is not None and model.session.path.name == INT8_FILE else "onnx"

    def consistency_weight(self, name: str) -> float:
        """Model ``name``'s document consistency weight, as labelling applies it (0 where
        it does not apply: models without entity labels or without a CRF)."""
        model = self.models[name]
        if model.label_scheme == TagScheme.NONE or model.config.model.head != "crf":
            return 0.0
        return model.config.model.document_consistency

    def char_cache_stats(self) -> dict[str, tuple[int, int, int]]:
        """Per model with a word cache: (hits, misses, words held) since loading."""
        return {
            name: (r.cache.hits, r.cache.misses, len(r.cache))
            for name, r in self._runners.items()
            if r.cache is not None
        }

    def select(self, names: Sequence[str] | None) -> list[ModelFiles]:
        """The named models in load order, duplicates dropped; unknown names are an error."""
        if names is None:
            return list(self.models.values())
        unknown = [n for n in names if n not in self.models]
        if unknown or not names:
            raise TaggerError(f"unknown model(s) {_brief(unknown)}; loaded: {sorted(self.models)}")
        return [m for name, m in self.models.items() if name in names]

    def label(
        self,
        sentences: Sequence[Sequence[str]],
        models: Sequence[str] | None = None,
        documents: Sequence[int] | None = None,
    ) -> dict[str, list[list[TokenLabel]]]:
        """Label every token of every sentence with each selected model, in input order.

        ``documents[i]`` names the document of sentence ``i``: adjacent sentences of the
        same document are each other's context (default: every sentence on its own).
        Empty sentences get empty labels.
        """
        selected = self.select(models)
        if documents is None:
            documents = range(len(sentences))
        elif len(documents) != len(sentences):
            raise TaggerError(f"{len(documents)} document ids for {len(sentences)} sentences")
        if self._pool is not None and len(selected) > 1:
            futures = [self._pool.submit(self._label_with, m, sentences, documents) for m in selected]
            return {m.name: f.result() for m, f in zip(selected, futures, strict=True)}
        return {m.name: self._label_with(m, sentences, documents) for m in selected}

    def _label_with(
        self, loaded: ModelFiles, sentences: Sequence[Sequence[str]], documents: Sequence[int]
    ) -> list[list[TokenLabel]]:
        lengths = [len(s) for s in sentences]
        model_config = loaded.config.model
        context = model_config.context_sentences
        windows = [w for w in context_windows(lengths, documents, context) if lengths[w.centre]]
        window_tokens = [[t for j in range(w.first, w.last) for t in sentences[j]] for w in windows]
        table = _token_wise_labels(loaded)
        runner = self._runners[loaded.name]
        batch_rows = token_budget_batches(
            [len(t) for t in window_tokens], self.batch_tokens, batch_overhead=runner.batch_overhead
        )

        def encode(rows: list[int]) -> Arrays:
            return encode_arrays(
                [window_tokens[r] for r in rows],
                loaded.vocab,
                model_config.max_word_chars,
                sentence_casing=model_config.sentence_casing,
            )

        centres = [_centre(w, lengths) for w in windows]
        decoded: Iterable[tuple[np.ndarray, np.ndarray]]
        weight = self.consistency_weight(loaded.name)
        if weight > 0:
            batches = [(rows, encode(rows)) for rows in batch_rows]  # every batch first: documents span batches
            decoded = _decode_consistently(loaded, runner, weight, batches, windows, centres, sentences, documents)
        else:
            decoded = (runner.decode(encode(rows)) for rows in batch_rows)  # one batch at a time
        out: list[list[TokenLabel]] = [[] for _ in sentences]
        for rows, (paths, confidence) in zip(batch_rows, decoded, strict=True):  # (B, T), (B, T)
            paths_l, conf_l = paths.tolist(), rounded_scores(confidence)
            for row, r in enumerate(rows):
                start, end = centres[r]
                ids = paths_l[row][start:end]
                if table is not None:
                    labels = [table[j] for j in ids]
                else:
                    labels = convert([loaded.vocab.labels[j] for j in ids], loaded.label_scheme, OUTPUT_SCHEME)
                out[windows[r].centre] = [
                    TokenLabel(lab, s) for lab, s in zip(labels, conf_l[row][start:end], strict=False)
                ]
        return out


def _decode_consistently(
    loaded: ModelFiles,
    runner: Runner,
    weight: float,
    batches: Sequence[tuple[list[int], Arrays]],
    windows: Sequence[Window],
    centres: Sequence[tuple[int, int]],
    sentences: Sequence[Sequence[str]],
    documents: Sequence[int],
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Decode every batch, then again the sentences whose scores the first pass's
    marginals change through their document's type bonus (``tagger.consistency``)."""
    crf = runner.crf_scores
    assert crf is not None
    scores = [runner.scores(arrays) for _, arrays in batches]  # each (B, T, K)
    first = [decode_probs(s, arrays.mask, crf) for s, (_, arrays) in zip(scores, batches, strict=True)]
    places = [
        TokenPlace(documents[windows[r].centre], b, row, *centres[r], sentences[windows[r].centre])
        for b, (rows, _) in enumerate(batches)
        for row, r in enumerate(rows)
    ]
    types = label_types(loaded.vocab.labels)
    changed = add_type_bonus(scores, [probs for _, probs in first], places, types, weight)
    decoded = []
    for b, (_, arrays) in enumerate(batches):
        paths, probs = first[b]
        confidence = chosen_probability(paths, probs)  # (B, T)
        rows = np.array(sorted(row for batch, row in changed if batch == b), dtype=np.int64)
        if len(rows):  # rows decode independently: the others keep their first pass
            steps = int(arrays.lengths[rows].max())
            again = decode_scores(scores[b][rows, :steps], arrays.mask[rows, :steps], crf)
            paths[rows, :steps], confidence[rows, :steps] = again
        decoded.append((paths, confidence))
    return decoded


def _runner(model: ModelFiles, device: str | torch.device, char_cache: int) -> Runner:
    if isinstance(model, PortableModel):
        return PortableRunner(model, char_cache)
    import torch

    from tagger.checkpoint import LoadedModel
    from tagger.torch_runner import TorchRunner

    if not isinstance(model, LoadedModel):
        raise TypeError(f"expected a LoadedModel or PortableModel, got {type(model).__name__}")
    return TorchRunner(model, torch.device(device), char_cache)


def _resolve_backend(backend: str, device: str | None, paths: Sequence[Path]) -> Backend:
    """The backend ``backend`` means for these model directories on ``device``."""
    if backend not in BACKENDS:
        raise TaggerError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend  # type: ignore[return-value]
    exports = _auto_exports(device, paths)
    return exports[0] if exports else "torch"


def _auto_exports(device: str | None, paths: Sequence[Path]) -> list[Backend]:
    """The exports ``auto`` may run these model directories on, best first (``AUTO_CPU``
    that this CPU suits and every directory has); none where it runs torch."""
    # Cheapest check first: without exports, neither onnxruntime nor torch is probed here.
    usable = [c for c in AUTO_CPU if c != "onnx-int8" or cpu_has_vnni()]
    exported = [c for c in usable if all((p / _ONNX_FILES[c]).is_file() for p in paths)]
    if not exported or device not in (None, "auto", "cpu"):
        return []
    if (device != "cpu" and cuda_possible()) or not onnx_runtime_available():
        return []
    return exported


def _centre(window: Window, lengths: Sequence[int]) -> tuple[int, int]:
    """Token range of the window's centre sentence within the window."""
    start = sum(lengths[window.first : window.centre])
    return start, start + lengths[window.centre]


def _token_wise_labels(loaded: ModelFiles) -> list[str] | None:
    """The output label of each label id, where output labels follow token by token.

    True for untagged and IOB2 labels, and for BIOES decoded by a CRF: its constraints
    make every path well formed, so S-X is B-X and E-X is I-X. Otherwise (IOB1, or
    BIOES from a softmax head, which may be ill formed) ``None``: whole sentences are
    converted through spans.
    """
    labels = loaded.vocab.labels
    if loaded.label_scheme in (TagScheme.NONE, OUTPUT_SCHEME):
        return list(labels)
    if loaded.label_scheme == TagScheme.BIOES and loaded.config.model.head == "crf":
        token_wise = {"S": "B", "E": "I"}
        return [token_wise.get(t[:1], t[:1]) + t[1:] if t[1:2] == "-" else t for t in labels]
    return None


SHOWN_NAMES = 3  # unknown model names an error names; the count says how many there were
SHOWN_CHARS = 40  # of each, the rest cut to an ellipsis


def _brief(names: Sequence[str]) -> str:
    """The first few distinct ``names``, each cut short, and how many there were when not
    all are shown: an error names what was wrong without echoing a request back."""
    distinct = list(dict.fromkeys(names))
    shown = [n if len(n) <= SHOWN_CHARS else n[:SHOWN_CHARS] + "…" for n in distinct[:SHOWN_NAMES]]
    return f"{shown}" if len(names) == len(shown) else f"{shown} ({len(names)} unknown names in all)"
