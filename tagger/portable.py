"""A model directory run with NumPy and ONNX Runtime alone: the ``onnx`` and
``onnx-int8`` backends, on CPU, without importing torch (a second of start-up, and
the whole of torch's memory, saved).

The recurrent stack and the output layer run in ONNX Runtime (``recurrent.onnx`` or
``recurrent-int8.onnx``, made by ``tagger export-onnx`` from model.safetensors, whose
SHA-256 it records); everything else is NumPy over the same safetensors weights: the
word and casing lookups, the character encoder (CNN or BiLSTM, the same maths as
``tagger.model``), and the CRF's Viterbi and marginals (``tagger.crf_decode``, which
the torch backend calls too). A stale export is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file

from tagger.batching import Arrays, encode_arrays
from tagger.charcache import CharVectorCache
from tagger.config import ModelConfig
from tagger.crf_decode import constraint_masks, penalised
from tagger.device import inference_threads
from tagger.errors import ModelDirError, TaggerError
from tagger.modelfiles import HALF_PRECISION, ModelFiles, inside, read_model_files
from tagger.vocab import CASINGS

ONNX_FILE = "recurrent.onnx"
INT8_FILE = "recurrent-int8.onnx"  # the same graph, weights quantized to int8 (dynamic quantization)
WEIGHTS_KEY = "model.safetensors.sha256"
# The int8 export's dev score beside the float export's, as ``tagger export-onnx`` measured
# them (JSON: {"float": F, "int8": Q}), where it could.
DEV_SCORES_KEY = "tagger.dev_scores"
# "1" in an int8 export made with range anchors (``tagger.onnx_anchors``): its scores do
# not depend on the batch, so it runs whole batches; an export without it runs each sentence alone.
BATCH_INVARIANT_KEY = "tagger.batch_invariant"
# How far the int8 export's dev score may lie from the float one's (F1 or accuracy,
# absolute) for ``auto`` to run it. On three CoNLL-2003 runs (dev, its cased variants and
# the held-out slice), the anchored export lost at most 0.0012 and gained at most 0.0023,
# 0.0000 on average (README, "Inference backends").
INT8_TOLERANCE = 0.002
_IN_EXPORT = ("rnn.", "emit.")  # weights the ONNX graph holds, not read by NumPy


def char_width(model: ModelConfig) -> int:
    """Width of the character encoder's output; 0 without one."""
    return {"cnn": model.char_hidden, "lstm": 2 * model.char_hidden}.get(model.char_encoder, 0)


def feature_width(model: ModelConfig) -> int:
    """Features per token that the recurrent stack reads: word, casing, characters."""
    return model.word_dim + max(model.casing_dim, 0) + char_width(model)


RECURRENT_PREFIX = "rnn."  # torch's names: rnn.weight_ih_l{layer}{_reverse}, rnn.bias_hh_l{layer}, ...
GATES = {"lstm": 4, "gru": 3, "rnn": 1}  # stacked gate blocks per cell type


def direction_suffixes(model: ModelConfig) -> tuple[str, ...]:
    return ("", "_reverse") if model.bidirectional else ("",)


def recurrent_shapes(model: ModelConfig, num_labels: int) -> dict[str, tuple[int, ...]]:
    """The recurrent stack's and the output layer's weights, with the shapes ``model``
    implies: what the ONNX export is made of, and what a model directory must hold."""
    gates = GATES.get(model.cell, 0) * model.hidden_size
    directions = len(direction_suffixes(model))
    shapes: dict[str, tuple[int, ...]] = {}
    for layer in range(model.num_layers):
        width = feature_width(model) if layer == 0 else model.hidden_size * directions
        for suffix in direction_suffixes(model):
            shapes[f"{RECURRENT_PREFIX}weight_ih_l{layer}{suffix}"] = (gates, width)
            shapes[f"{RECURRENT_PREFIX}weight_hh_l{layer}{suffix}"] = (gates, model.hidden_size)
            shapes[f"{RECURRENT_PREFIX}bias_ih_l{layer}{suffix}"] = (gates,)
            shapes[f"{RECURRENT_PREFIX}bias_hh_l{layer}{suffix}"] = (gates,)
    shapes["emit.weight"] = (num_labels, model.hidden_size * directions)
    shapes["emit.bias"] = (num_labels,)
    return shapes


def shape_problems(tensors: Mapping[str, Any], expected: Mapping[str, tuple[int, ...]]) -> list[str]:
    """What in ``tensors`` (anything with a ``shape``) differs from ``expected``, tensors
    that config.json does not describe included (a deeper stack, a CRF on a softmax head)."""
    problems = []
    for key, shape in expected.items():
        found = tensors.get(key)
        if found is None:
            problems.append(f"{key} missing")
        elif tuple(found.shape) != shape:
            problems.append(f"{key} has shape {tuple(found.shape)}, config implies {shape}")
    extra = sorted(k for k in tensors if k not in expected)
    if extra:
        problems.append(f"{', '.join(extra[:4])}{' ...' if len(extra) > 4 else ''} not in the configured model")
    return problems


class StaleExportError(ModelDirError):
    """An export made from other weights than the directory's model.safetensors."""


def weights_digest(directory: Path) -> str:
    return hashlib.sha256((directory / "model.safetensors").read_bytes()).hexdigest()


def onnx_runtime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class OnnxSession:
    """An ONNX Runtime session over a model directory's recurrent export: features
    (B, T, D) float32 and lengths (B,) -> label scores (B, T, K). It uses as many
    threads as ``tagger.device.inference_threads`` says where it runs, and is made again
    in a forked worker (a session's thread pool does not survive a fork). The session a
    worker inherits is kept, never released there: its destructor would wait for pool
    threads that only the parent has, and hang.

    An int8 export runs whole batches where it was made with range anchors
    (``tagger.onnx_anchors``: every LSTM stack since 2026-12-07), whose quantization
    ranges are constants, so a sentence scores exactly as it does alone, on any number of
    threads. Other int8 exports (GRU and RNN stacks, older files) run one sentence per
    call, each call on one thread, the sentences of a batch shared out between the
    threads: dynamic quantization scales each matrix product's activations by that
    product's range, so run over a batch, a sentence's scores would depend on its
    batch-mates and on how ONNX Runtime splits the batch between threads.
    """

    _inherited: ClassVar[list[Any]] = []  # sessions of parent processes, held so they are never freed

    def __init__(self, directory: Path, file: str = ONNX_FILE) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise TaggerError("the onnx backend needs onnxruntime: pip install 'tagger[onnx]'") from None
        self._ort = ort
        self.path = directory / file
        if not self.path.is_file():
            raise ModelDirError(f"{directory}: no {file}; make it with `tagger export-onnx {directory}`")
        session = self._open(1)  # one thread: no pool, so forking after this is safe
        metadata = session.get_modelmeta().custom_metadata_map
        made_from = metadata.get(WEIGHTS_KEY)
        if made_from != weights_digest(directory):
            raise StaleExportError(
                f"{self.path}: made from other weights than model.safetensors; "
                f"export it again with `tagger export-onnx {directory}`"
            )
        self._session, self._owner = session, (os.getpid(), 1)
        self.per_sentence = file == INT8_FILE and metadata.get(BATCH_INVARIANT_KEY) != "1"
        # Scored at export beyond the tolerance: auto runs the float export instead.
        self.beyond_tolerance = _beyond_tolerance(metadata.get(DEV_SCORES_KEY))
        self._row_threads: tuple[tuple[int, int], ThreadPoolExecutor] | None = None  # (pid, threads), pool
        # A unidirectional stack never reads the lengths, so its export has no such input.
        self.reads_lengths = any(i.name == "lengths" for i in session.get_inputs())  # ``_run`` runs per sentence
        (features,) = [i for i in session.get_inputs() if i.name == "features"]
        self.width = features.shape[2] if isinstance(features.shape[2], int) else None  # D
        self.labels = int(session.get_outputs()[0].shape[2])  # K

    def _open(self, threads: int) -> Any:
        options = self._ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # No busy-waiting between runs: the same cores tokenize, decode and serialize.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            return self._ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelDirError(f"{self.path}: cannot load: {exc}") from None

    def __call__(self, features: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        owner = (os.getpid(), 1 if self.per_sentence else inference_threads())
        if owner != self._owner:
            if owner[0] != self._owner[0]:
                OnnxSession._inherited.append(self._session)
            self._session, self._owner = self._open(owner[1]), owner
        features = np.ascontiguousarray(features, dtype=np.float32)  # (B, T, D)
        lengths = lengths.astype(np.int64)  # (B,)
        if not self.per_sentence:
            return self._run(features, lengths)
        scores = np.zeros((*features.shape[:2], self.labels), dtype=np.float32)  # (B, T, K); padding stays 0
        sizes = lengths.tolist()
        threads = max(1, min(inference_threads(), len(sizes)))

        def share(first: int) -> None:  # every threads-th sentence: batches come sorted by length
            for row in range(first, len(sizes), threads):
                scores[row, : sizes[row]] = self._run(features[row : row + 1, : sizes[row]], lengths[row : row + 1])[0]

        if threads == 1:
            share(0)
        else:  # ONNX Runtime releases the GIL while it runs, and one session serves many threads
            list(self._pool(threads).map(share, range(threads)))
        return scores

    def _pool(self, threads: int) -> ThreadPoolExecutor:
        """This process's threads for sentences run side by side (a forked worker makes its own)."""
        owner = (os.getpid(), threads)
        if self._row_threads is None or self._row_threads[0] != owner:
            if self._row_threads is not None and self._row_threads[0][0] == owner[0]:
                self._row_threads[1].shutdown(wait=False)
            self._row_threads = owner, ThreadPoolExecutor(threads, "onnx-sentences")
        return self._row_threads[1]

    def _run(self, features: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        inputs = {"features": features, "lengths": lengths} if self.reads_lengths else {"features": features}
        return self._session.run(None, inputs)[0]  # type: ignore[no-any-return]


def _beyond_tolerance(recorded: str | None) -> bool:
    """Whether an export's recorded dev scores (``DEV_SCORES_KEY``) lie further apart than
    ``INT8_TOLERANCE``; False where none are recorded, or none that can be read."""
    try:
        scores = json.loads(recorded) if recorded else {}
        return bool(abs(float(scores["int8"]) - float(scores["float"])) > INT8_TOLERANCE)
    except (ValueError, KeyError, TypeError):
        return False


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # = 1 / (1 + e^-x), without overflow


def reverse_within_lengths(x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Each row of ``x`` (N, L, ...) reversed over its first ``lengths[n]`` steps,
    padding left in place."""
    steps = np.arange(x.shape[1])[None, :]  # (1, L)
    ends = lengths[:, None]  # (N, 1)
    index = np.where(steps < ends, ends - 1 - steps, steps)  # (N, L)
    return np.take_along_axis(x, index.reshape(*index.shape, *([1] * (x.ndim - 2))), axis=1)


def lstm_final_state(x: np.ndarray, lengths: np.ndarray, weights: dict[str, np.ndarray], suffix: str) -> np.ndarray:
    """The last hidden state (N, H) of a one-layer LSTM (torch's gate order i, f, g, o)
    over each row of ``x`` (N, L, C) up to its length (each at least 1).

    Rows run longest first, as a packed sequence does: at step t only the rows still
    being read (a prefix) are computed, and a row that has ended keeps its state. Words
    are short next to the longest of a call (CoNLL-2003 dev's distinct words: 6
    characters on average, 17 at most), so most of a padded grid's steps were padding."""
    w_ih, w_hh = weights[f"weight_ih_l0{suffix}"], weights[f"weight_hh_l0{suffix}"]
    bias = weights[f"bias_ih_l0{suffix}"] + weights[f"bias_hh_l0{suffix}"]
    n, steps = x.shape[:2]
    hidden = w_hh.shape[1]
    order = np.argsort(-lengths, kind="stable")  # longest first
    running = np.count_nonzero(lengths[None, :] > np.arange(steps)[:, None], axis=1).tolist()  # (L,) rows read at t
    inputs = x[order] @ w_ih.T + bias  # (N, L, 4H): the input half of every step at once
    recurrent = np.ascontiguousarray(w_hh.T)  # (H, 4H)
    h = np.zeros((n, hidden), dtype=np.float32)
    c = np.zeros((n, hidden), dtype=np.float32)
    for t in range(steps):
        k = running[t]
        if k == 0:
            break
        gates = inputs[:k, t] + h[:k] @ recurrent  # (k, 4H)
        squashed = _sigmoid(gates)  # i, f and o: one call instead of three (g's quarter goes unused)
        cell = np.tanh(gates[:, 2 * hidden : 3 * hidden])  # g
        c[:k] = squashed[:, hidden : 2 * hidden] * c[:k] + squashed[:, :hidden] * cell
        h[:k] = squashed[:, 3 * hidden :] * np.tanh(c[:k])
    out = np.empty_like(h)
    out[order] = h
    return out


def expected_shapes(files: ModelFiles) -> dict[str, tuple[int, ...]]:
    """Every weight of the model that config.json and vocab.json describe, with its
    shape: a mismatch (a config edited, weights of another model) is a
    ``ModelDirError`` at load, not a shape error in the middle of tagging, nor a model
    that tags with weights its config does not describe."""
    m = files.config.model
    k = len(files.vocab.labels)
    expected: dict[str, tuple[int, ...]] = {"word_embed.weight": (len(files.vocab.words), m.word_dim)}
    if m.casing_dim > 0:
        expected["case_embed.weight"] = (len(CASINGS) + int(m.sentence_casing), m.casing_dim)
    if m.char_encoder != "none":
        expected["char_encoder.embed.weight"] = (len(files.vocab.chars), m.char_dim)
    if m.char_encoder == "cnn":
        expected["char_encoder.conv.weight"] = (m.char_hidden, m.char_dim, m.char_kernel)
        expected["char_encoder.conv.bias"] = (m.char_hidden,)
    elif m.char_encoder == "lstm":
        gates = 4 * m.char_hidden
        for suffix in ("", "_reverse"):
            expected[f"char_encoder.lstm.weight_ih_l0{suffix}"] = (gates, m.char_dim)
            expected[f"char_encoder.lstm.weight_hh_l0{suffix}"] = (gates, m.char_hidden)
            expected[f"char_encoder.lstm.bias_ih_l0{suffix}"] = (gates,)
            expected[f"char_encoder.lstm.bias_hh_l0{suffix}"] = (gates,)
    if m.head == "crf":
        expected |= {"crf.transitions": (k, k), "crf.start": (k,), "crf.end": (k,)}
    return expected | recurrent_shapes(m, k)


# The character CNN runs words in groups of at most these lengths (and the rest), where
# there are this many words or more; fewer run as one group.
CNN_LENGTH_GROUPS = (4, 6, 8, 11, 15)
CNN_GROUPED_FROM = 64


@dataclass
class PortableModel(ModelFiles):
    """A model directory's model as NumPy weights and an ONNX Runtime session."""

    weights: dict[str, np.ndarray] = field(default_factory=dict)
    session: OnnxSession | None = None
    crf_scores: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # float32 trans, start, end with penalties
    _cnn: tuple[np.ndarray, np.ndarray, np.ndarray, int] | None = None  # ``_cnn_weights``, made once

    @classmethod
    def load(cls, directory: str | Path, file: str = ONNX_FILE) -> PortableModel:
        files = read_model_files(directory)
        weights_path = inside(files.path / "model.safetensors")
        try:
            tensors = load_file(str(weights_path))
        except (SafetensorError, OSError) as exc:
            raise ModelDirError(f"{weights_path}: unreadable weights: {exc}") from None
        problems = shape_problems(tensors, expected_shapes(files))
        if problems:
            raise ModelDirError(f"{weights_path}: weights do not match config.json/vocab.json: {'; '.join(problems)}")
        # The recurrent layers and the output layer live in the export; keep the rest.
        # The word table stays as stored (float16): only its looked-up rows are widened,
        # exactly, by the concatenation in ``scores``; widened whole it would take
        # twice the memory (40 MB for 200k words of 50), in every worker.
        weights = {
            k: v if k in HALF_PRECISION else v.astype(np.float32)
            for k, v in tensors.items()
            if not k.startswith(_IN_EXPORT)
        }
        session = OnnxSession(files.path, file)  # checks that the export matches these weights
        width = feature_width(files.config.model)
        if session.width not in (None, width):
            raise ModelDirError(f"{session.path}: reads {session.width} features, config.json implies {width}")
        model = cls(**vars(files), weights=weights, session=session)
        if files.config.model.head == "crf":
            masks = constraint_masks(files.vocab.labels, files.label_scheme)
            model.crf_scores = penalised(weights["crf.transitions"], weights["crf.start"], weights["crf.end"], masks)
        return model

    @property
    def char_dim(self) -> int:
        """Width of the character encoder's output; 0 without one."""
        return char_width(self.config.model)

    def char_vectors(self, chars: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Character vectors (N, Dc) of words given as char ids (N, L) and lengths (N,)."""
        if self.config.model.char_encoder == "lstm":
            x = self.weights["char_encoder.embed.weight"][chars[:, : int(lengths.max())]]  # (N, L, C)
            w = {k.removeprefix("char_encoder.lstm."): v for k, v in self.weights.items()}
            forward = lstm_final_state(x, lengths, w, "")
            backward = lstm_final_state(reverse_within_lengths(x, lengths), lengths, w, "_reverse")
            return np.concatenate([forward, backward], axis=1)  # (N, 2H)
        if len(lengths) < CNN_GROUPED_FROM:
            return self._char_cnn(chars, lengths)
        # Words of similar length together: padded to the longest word of all, the
        # windows of many words would be mostly padding (CoNLL-2003 dev's distinct words:
        # 17 characters at most, 6 on average), and each group's product costs what its
        # own longest word needs.
        out = np.empty((len(lengths), self.char_dim), dtype=np.float32)  # (N, F)
        order = np.argsort(lengths, kind="stable")
        ends = [*np.searchsorted(lengths[order], CNN_LENGTH_GROUPS, side="right").tolist(), len(lengths)]
        start = 0
        for end in ends:
            if end > start:
                rows = order[start:end]
                out[rows] = self._char_cnn(chars[rows], lengths[rows])
                start = end
        return out

    def _char_cnn(self, chars: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Ma & Hovy's CNN as ``tagger.model.CharCNN`` computes it: one matrix product
        over character windows, padded positions masked before the max. (N, F)

        Each window is gathered straight from the character table, with the filters
        laid out window position first to match: no padded copy of every word's
        embeddings, and no stacking of shifted copies. A zero row appended to the table
        stands for the padding around the grid (torch pads with zeros); inside it, a
        word shorter than the grid reads the padding id 0, whose row nn.Embedding's
        ``padding_idx`` keeps at zero. So a word's vector does not depend on which other
        words share its grid, here or in torch."""
        table, filters, bias, kernel = self._cnn_weights()
        n, length = len(lengths), int(lengths.max())
        pad = kernel // 2
        ids = np.full((n, length + 2 * pad), len(table) - 1, dtype=np.int64)  # (N, L + 2p): the zero row
        ids[:, pad : pad + length] = chars[:, :length]
        steps = np.arange(length)[:, None] + np.arange(kernel)[None, :]  # (L, k)
        windows = table[ids[:, steps]]  # (N, L, k, C)
        h = windows.reshape(n, length, -1) @ filters + bias  # (N, L, F)
        h[np.arange(length)[None, :] >= lengths[:, None]] = -np.inf  # past each word's end
        return h.max(axis=1)  # type: ignore[no-any-return]  # (N, F)

    def _cnn_weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """The character table with a zero row appended (V + 1, C), the filters as
        (k * C, F) in window-position-major order, the bias (F,) and the kernel width."""
        if self._cnn is None:
            embed = self.weights["char_encoder.embed.weight"]  # (V, C)
            weight = self.weights["char_encoder.conv.weight"]  # (F, C, k)
            filters, channels, kernel = weight.shape
            table = np.concatenate([embed, np.zeros((1, channels), dtype=embed.dtype)])
            by_position = np.ascontiguousarray(weight.transpose(2, 1, 0).reshape(kernel * channels, filters))
            self._cnn = (table, by_position, self.weights["char_encoder.conv.bias"], kernel)
        return self._cnn

    def features(self, batch: Arrays, cache: CharVectorCache | None = None) -> np.ndarray:
        """The recurrent layers' input (B, T, D) float32: each token's word vector, casing
        vector and character vector, in the order the export reads them."""
        m = self.config.model
        parts = [self.weights["word_embed.weight"][batch.words]]  # (B, T, Dw)
        if m.casing_dim > 0:
            parts.append(self.weights["case_embed.weight"][batch.casings])
        if m.char_encoder != "none":

            def encode(rows: np.ndarray) -> np.ndarray:
                return self.char_vectors(batch.chars[rows], batch.char_lengths[rows])

            if cache is not None:
                per_word = cache.vectors(batch.distinct, encode)  # (U, Dc)
            else:
                per_word = self.char_vectors(batch.chars, batch.char_lengths)
            grid = np.zeros((*batch.words.shape, per_word.shape[1]), dtype=np.float32)  # (B, T, Dc)
            grid[batch.mask] = per_word[batch.char_rows]
            parts.append(grid)
        return np.concatenate(parts, axis=2, dtype=np.float32)

    def word_features(self, words: list[str]) -> np.ndarray:
        """``features`` (U, D) of distinct words, each as a token on its own reads it
        (models without sentence casing: there a token's row depends on its string alone)."""
        arrays = encode_arrays([words], self.vocab, self.config.model.max_word_chars)
        return self.features(arrays)[0]

    def scores(self, batch: Arrays, cache: CharVectorCache | None = None) -> np.ndarray:
        """Emission scores (B, T, K) float32, before the CRF."""
        assert self.session is not None
        return self.session(self.features(batch, cache), batch.lengths)  # (B, T, K)
