"""The labeler: loaded models + a device -> a label and its probability for every token
of batches of token sequences. No tokenization, no process-wide settings (entry points
set the threads), nothing about documents beyond which sentences are neighbours.

Sentences are sorted by length and batched under one padded-token budget
(``batching.DEFAULT_BATCH_TOKENS``). A model whose config asks for document context
(``context_sentences``) runs over each sentence together with its neighbours from the
same document and keeps the labels of the centre sentence only.

Each model's network runs on a backend: torch (``tagger.torch_runner``, CPU or CUDA) or
ONNX Runtime with NumPy (``tagger.portable_runner``, CPU). The CRF decodes the emission
scores of all of a call's sentences at once, in NumPy (``tagger.crf_decode``). This module
imports neither torch nor onnxruntime itself: a labeler on the ONNX backend never loads torch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from tagger.batching import DEFAULT_BATCH_TOKENS, Window, context_windows, token_budget_batches
from tagger.consistency import label_types, type_bonus
from tagger.crf_decode import decode_flat
from tagger.device import cpu_has_vnni, cuda_possible
from tagger.document import TokenLabel, rounded_scores
from tagger.errors import ModelDirError, TaggerError
from tagger.modelfiles import ModelFiles
from tagger.portable import (
    INT8_FILE,
    ONNX_FILE,
    PortableModel,
    StaleExportError,
    onnx_runtime_available,
)
from tagger.portable_runner import PortableRunner
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
CHAR_CACHE_WORDS = 50_000  # distinct words each model's memo keeps (onnx: input rows; torch: character vectors)
log = logging.getLogger("tagger")


class WordCache(Protocol):
    """A runner's per-word memo, as the service's metrics report it."""

    hits: int
    misses: int

    def __len__(self) -> int: ...


class Runner(Protocol):
    """One model's network on one backend: a batch of sentences in, emission scores out."""

    @property
    def cache(self) -> WordCache | None: ...

    @property
    def batch_overhead(self) -> float:
        """What one more batch costs, in padded tokens: how ``token_budget_batches``
        trades fewer batches against less padding on this backend."""
        ...

    def scores(self, sentences: Sequence[Sequence[str]]) -> np.ndarray:
        """Emission scores (N, K) float32 of the tokens of ``sentences`` (each
        non-empty), sentence by sentence, before the CRF (or the softmax)."""
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
        out: list[list[TokenLabel]] = [[] for _ in sentences]
        if not windows:
            return out
        window_tokens = [[t for j in range(w.first, w.last) for t in sentences[j]] for w in windows]
        runner = self._runners[loaded.name]
        batch_rows = token_budget_batches(
            [len(t) for t in window_tokens], self.batch_tokens, batch_overhead=runner.batch_overhead
        )
        # The network runs batch by batch; the CRF decodes the emissions of every batch
        # together (``_decode``), windows in the order their batches ran.
        order = [r for rows in batch_rows for r in rows]
        sizes = np.array([len(window_tokens[r]) for r in order], dtype=np.int64)  # (W,)
        starts = np.cumsum(sizes) - sizes  # (W,) each window's first row of ``scores``
        scores = np.empty((int(sizes.sum()), len(loaded.vocab.labels)), dtype=np.float32)  # (N, K)
        row = 0
        for rows in batch_rows:
            batch = runner.scores([window_tokens[r] for r in rows])  # (n, K)
            scores[row : row + len(batch)] = batch
            row += len(batch)
        centres = [_centre(windows[r], lengths) for r in order]
        centre_sizes = np.array([end - start for start, end in centres], dtype=np.int64)  # (W,)
        centre_rows = _spans(starts + [start for start, _ in centres], centre_sizes)  # (C,) the labelled rows
        crf = runner.crf_scores
        weight = self.consistency_weight(loaded.name)
        if weight > 0 and crf is not None:
            forms = [form for r in order for form in sentences[windows[r].centre]]
            owners = np.repeat([documents[windows[r].centre] for r in order], centre_sizes)
            paths, confidence = _decode_consistently(
                loaded, scores, sizes, starts, centre_sizes, centre_rows, forms, owners, crf, weight
            )
        else:
            paths, confidence = _decode(scores, sizes, crf)
        paths_l, conf_l = paths[centre_rows].tolist(), rounded_scores(confidence[centre_rows])
        table = _token_wise_labels(loaded)
        first = 0
        for r, size in zip(order, centre_sizes.tolist(), strict=True):
            ids = paths_l[first : first + size]
            if table is not None:
                labels = [table[j] for j in ids]
            else:
                labels = convert([loaded.vocab.labels[j] for j in ids], loaded.label_scheme, OUTPUT_SCHEME)
            scored = conf_l[first : first + size]
            out[windows[r].centre] = [TokenLabel(lab, s) for lab, s in zip(labels, scored, strict=True)]
            first += size
        return out


DECODE_TOKENS = 32_768  # tokens of one packed CRF pass: its float64 work arrays stay near 20 MB


def _decode(
    scores: np.ndarray,
    sizes: np.ndarray,
    crf: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    every_label: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Best labels (N,) and their probabilities (N,) float32, or every label's (N, K)
    float64, of windows of ``sizes`` (W,) whose emission scores (N, K) follow one
    another. Windows decode in groups of at most ``DECODE_TOKENS`` (a longer window alone)."""
    total = len(scores)
    paths = np.empty(total, dtype=np.int64)
    probs = np.empty((total, scores.shape[1])) if every_label else np.empty(total, dtype=np.float32)
    ends = np.cumsum(sizes)  # (W,)
    first, start = 0, 0
    while first < len(sizes):
        last = max(first + 1, int(np.searchsorted(ends, start + DECODE_TOKENS, side="right")))
        end = int(ends[last - 1])
        group_paths, group_probs = decode_flat(scores[start:end], sizes[first:last], crf)
        paths[start:end] = group_paths
        probs[start:end] = group_probs if every_label else _chosen(group_probs, group_paths)
        first, start = last, end
    return paths, probs


def _decode_consistently(
    loaded: ModelFiles,
    scores: np.ndarray,
    sizes: np.ndarray,
    starts: np.ndarray,
    centre_sizes: np.ndarray,
    centre_rows: np.ndarray,
    forms: Sequence[str],
    owners: np.ndarray,
    crf: tuple[np.ndarray, np.ndarray, np.ndarray],
    weight: float,
) -> tuple[np.ndarray, np.ndarray]:
    """``_decode``, then again the windows whose scores the first pass's marginals change
    through their document's type bonus (``tagger.consistency``). ``centre_rows`` (C,): the
    rows of each window's centre sentence, ``centre_sizes`` (W,) how many; ``forms`` and
    ``owners``: the string and document of each of those tokens; ``scores`` gains the bonus."""
    paths, probs = _decode(scores, sizes, crf, every_label=True)
    confidence = _chosen(probs, paths)  # (N,)
    bonus = type_bonus(forms, probs[centre_rows], label_types(loaded.vocab.labels), weight, owners.tolist())  # (C, K)
    touched = bonus.any(axis=1)  # (C,)
    if not touched.any():
        return paths, confidence
    scores[centre_rows] += bonus
    changed = np.unique(np.repeat(np.arange(len(sizes)), centre_sizes)[touched])  # windows, in order
    rows = _spans(starts[changed], sizes[changed])  # windows decode independently: the others keep their first pass
    paths[rows], confidence[rows] = _decode(scores[rows], sizes[changed], crf)
    return paths, confidence


def _chosen(probs: np.ndarray, paths: np.ndarray) -> np.ndarray:
    """The probability (N,) float32 of each row's chosen label, of every label's (N, K)."""
    return probs[np.arange(len(paths)), paths].astype(np.float32)  # type: ignore[no-any-return]


def _spans(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The rows ``start, ..., start + size - 1`` of each span, one span after another."""
    return np.repeat(starts - (np.cumsum(sizes) - sizes), sizes) + np.arange(int(sizes.sum()))  # type: ignore[no-any-return]


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
