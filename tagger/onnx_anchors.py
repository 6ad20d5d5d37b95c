"""Range anchors: what lets the int8 export run whole batches and still score every
sentence exactly as it scores alone.

ONNX Runtime's dynamic quantization maps each activation tensor to 8 bits by that
tensor's own minimum and maximum: the input of a layer over the whole batch, the hidden
state of the whole batch at each step. A sentence's scores therefore depended on its
batch-mates (on CoNLL-2003 dev's batches, 11 labels moved between each sentence alone and
in its batch: ``benchmarks/recurrent_calls.py``), so the int8 export used to run one
sentence per call, which cost it a third of its speed.

Anchors make every one of those ranges a constant. Each direction of each LSTM layer
gets two more hidden units that ignore their inputs and hold exactly +1 and -1 from the
first step on (bias 50 saturates their gates: sigmoid and tanh are exactly 1.0 in
float32; their cell starts at +10 and -10, so tanh of it is exactly +-1 too). Every
hidden state lies in [-1, 1], so each step's state (from the first step's output on;
the initial state is 0 for every sentence alike), and the next layer's input, spans
exactly [-1, 1]. The first layer's input gets two columns holding +A and -A, where
A bounds every feature the model can produce (``feature_bound``), so its range is
[-A, A] whatever the sentence. No real unit reads an anchor: their weights from anchors
are 0, which quantizes to exactly 0. The float function of the model is unchanged (the
tests compare the anchored float graph with the plain one).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tagger.config import ModelConfig

ANCHORS = 2  # hidden units (and first-layer input columns) added per direction
SATURATE = 50.0  # a gate pre-activation whose sigmoid and tanh are exactly 1.0 in float32
CELL_START = 10.0  # tanh(+-11) is exactly +-1.0 in float32: the anchors' state from step 1
_GATES = 4  # torch's LSTM gate blocks: input, forget, cell, output
# Bias of the two anchor units per gate block: all gates open, cell input +1 and -1.
_ANCHOR_BIAS = ((SATURATE, SATURATE), (SATURATE, SATURATE), (SATURATE, -SATURATE), (SATURATE, SATURATE))


def can_anchor(model: ModelConfig) -> bool:
    """Only LSTM stacks: ONNX Runtime quantizes no other recurrent cell, so the others'
    int8 exports keep running one sentence per call."""
    return model.cell == "lstm"


def _grow_gate_rows(matrix: np.ndarray, fill: tuple[tuple[float, float], ...] | None = None) -> np.ndarray:
    """(4 * H, ...) -> (4 * (H + 2), ...): two rows after each gate block, zero or ``fill``."""
    blocks = np.split(matrix, _GATES, axis=0)
    out = []
    for gate, block in enumerate(blocks):
        extra = np.zeros((ANCHORS, *block.shape[1:]), dtype=block.dtype)
        if fill is not None:
            extra[:] = np.array(fill[gate], dtype=block.dtype).reshape(ANCHORS, *([1] * (block.ndim - 1)))
        out += [block, extra]
    return np.concatenate(out, axis=0)


def _grow_input_columns(matrix: np.ndarray, groups: int) -> np.ndarray:
    """(..., groups * H) -> (..., groups * (H + 2)): two zero columns after each group
    (one group per direction: what reads a hidden state never reads its anchors)."""
    out = []
    for part in np.split(matrix, groups, axis=-1):
        out += [part, np.zeros((*part.shape[:-1], ANCHORS), dtype=part.dtype)]
    return np.concatenate(out, axis=-1)


def anchored_weights(weights: Mapping[str, np.ndarray], model: ModelConfig, prefix: str) -> dict[str, np.ndarray]:
    """torch-named weights of the stack with the anchor units added (hidden size H + 2
    per direction; the first layer reads D + 2 features)."""
    if not can_anchor(model):
        raise ValueError(f"anchors are for LSTM stacks, not {model.cell}")
    directions = 2 if model.bidirectional else 1
    out = dict(weights)
    for layer in range(model.num_layers):
        for suffix in ("", "_reverse")[:directions]:
            key = f"l{layer}{suffix}"
            w_ih = weights[f"{prefix}weight_ih_{key}"]  # (4H, D) or (4H, dirs * H)
            if layer == 0:
                w_ih = np.concatenate([w_ih, np.zeros((w_ih.shape[0], ANCHORS), dtype=w_ih.dtype)], axis=1)
            else:
                w_ih = _grow_input_columns(w_ih, directions)
            out[f"{prefix}weight_ih_{key}"] = _grow_gate_rows(w_ih)
            out[f"{prefix}weight_hh_{key}"] = _grow_gate_rows(
                _grow_input_columns(weights[f"{prefix}weight_hh_{key}"], 1)
            )
            out[f"{prefix}bias_ih_{key}"] = _grow_gate_rows(weights[f"{prefix}bias_ih_{key}"], _ANCHOR_BIAS)
            out[f"{prefix}bias_hh_{key}"] = _grow_gate_rows(weights[f"{prefix}bias_hh_{key}"])
    out["emit.weight"] = _grow_input_columns(weights["emit.weight"], directions)  # (K, dirs * (H + 2))
    return out


def initial_cells(model: ModelConfig) -> np.ndarray:
    """Each layer's initial cell state for one sentence (dirs, 1, H + 2): 0 for the real
    units, +10 and -10 for the anchors."""
    directions = 2 if model.bidirectional else 1
    cells = np.zeros((directions, 1, model.hidden_size + ANCHORS), dtype=np.float32)
    cells[:, 0, model.hidden_size :] = (CELL_START, -CELL_START)
    return cells


def feature_bound(weights: Mapping[str, np.ndarray], model: ModelConfig) -> float:
    """A bound on the absolute value of every feature the model's input layer can be
    given, from the weights alone: the embedding tables' largest entry, and for the
    character CNN, the largest output any spelling can reach (bias plus, at each of the
    kernel's positions, the largest contribution any character or the zero padding can
    make); a character BiLSTM's states lie in [-1, 1]."""
    bound = float(np.abs(weights["word_embed.weight"]).max())
    if model.casing_dim > 0:
        bound = max(bound, float(np.abs(weights["case_embed.weight"]).max()))
    if model.char_encoder == "cnn":
        kernel = weights["char_encoder.conv.weight"]  # (F, C, k)
        chars = weights["char_encoder.embed.weight"]  # (V, C)
        bias = weights["char_encoder.conv.bias"]  # (F,)
        each = np.einsum("fck,vc->fkv", kernel.astype(np.float64), chars.astype(np.float64))  # (F, k, V)
        high = bias + np.maximum(each.max(axis=2), 0.0).sum(axis=1)  # (F,): 0 is the padding's
        low = bias + np.minimum(each.min(axis=2), 0.0).sum(axis=1)
        bound = max(bound, float(np.abs(high).max()), float(np.abs(low).max()))
    elif model.char_encoder != "none":
        bound = max(bound, 1.0)
    return bound * (1.0 + 1e-6)  # float32 sums may round a hair past the float64 bound
