"""The recurrent stack and the output layer as an ONNX graph, written node by node from
the safetensors weights: no torch, no tracing.

Each layer is one native ONNX ``LSTM``, ``GRU`` or ``RNN`` node with ``sequence_lens``,
so ONNX Runtime runs both directions of a layer in one kernel and the backward one
starts at each sentence's own last token: padding never reaches a real token. The
torch exporter cannot take packed sequences, so the earlier export traced a padded
twin of the stack, one single-direction LSTM per direction with every sentence
reversed within its length by gathers before and after it (4 LSTM nodes and some 200
others for two layers). The same two layers as two bidirectional nodes give the same
scores to the last bit on CoNLL-2003 dev and spend no time on the reversals
(``README.md``, "Inference backends", has the measurements).

Shapes: B sentences, T time steps, D input features, H hidden units per direction,
K labels. ONNX Runtime's CPU kernels take time-major input only (``layout=0``), so
the graph transposes once on the way in and once on the way out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import onnx
from onnx import NodeProto, TensorProto, helper, numpy_helper

from tagger.config import ModelConfig
from tagger.onnx_anchors import ANCHORS, anchored_weights, feature_bound, initial_cells
from tagger.portable import RECURRENT_PREFIX as PREFIX
from tagger.portable import direction_suffixes as _suffixes

OPSET = 17
IR_VERSION = 8  # the IR of opset 17: older ONNX Runtimes refuse newer IRs

# torch's gate blocks, in the order ONNX wants them (torch LSTM: i f g o -> ONNX i o f c;
# torch GRU: r z n -> ONNX z r h).
_GATE_ORDER = {"lstm": (0, 3, 1, 2), "gru": (1, 0, 2), "rnn": (0,)}
_OP = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}


def _gates(matrix: np.ndarray, cell: str) -> np.ndarray:
    """torch's stacked gate blocks (G * H, ...) reordered as ONNX stacks them."""
    blocks = np.split(matrix, len(_GATE_ORDER[cell]), axis=0)
    return np.concatenate([blocks[i] for i in _GATE_ORDER[cell]], axis=0)


def recurrent_graph(weights: Mapping[str, np.ndarray], model: ModelConfig, anchored: bool = False) -> onnx.ModelProto:
    """features (B, T, D) float32 and lengths (B,) int64 -> label scores (B, T, K).

    ``anchored`` adds the range anchors of ``tagger.onnx_anchors`` (LSTM stacks only):
    the same function, made for the int8 export to quantize."""
    if model.cell not in _OP:
        raise ValueError(f"unknown cell {model.cell!r}; expected lstm, gru or rnn")
    input_size = weights[f"{PREFIX}weight_ih_l0"].shape[1]
    initializers: list[TensorProto] = []

    def constant(name: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    nodes = [helper.make_node("Cast", ["lengths"], ["sequence_lens"], to=TensorProto.INT32)]
    features = "features"
    if anchored:
        nodes += _anchor_nodes(weights, model, constant)
        weights = anchored_weights(weights, model, PREFIX)
        model = dataclasses.replace(model, hidden_size=model.hidden_size + ANCHORS)
        features = "anchored_features"
    hidden, directions = model.hidden_size, 2 if model.bidirectional else 1
    num_labels = weights["emit.bias"].shape[0]
    nodes.append(helper.make_node("Transpose", [features], ["x0"], perm=[1, 0, 2]))  # (T, B, D)

    constant("time_batch_features", np.array([0, 0, directions * hidden], dtype=np.int64))
    direction = "bidirectional" if directions == 2 else "forward"
    attributes: dict[str, Any] = {"hidden_size": hidden, "direction": direction}
    if model.cell == "gru":
        attributes["linear_before_reset"] = 1  # torch applies the reset gate after the product
    if model.cell == "rnn":
        activation = "Relu" if model.identity_init or model.rnn_nonlinearity == "relu" else "Tanh"
        attributes["activations"] = [activation] * directions
    x = "x0"
    for layer in range(model.num_layers):
        names = [f"{PREFIX}{{}}_l{layer}{suffix}" for suffix in _suffixes(model)]
        w = np.stack([_gates(weights[n.format("weight_ih")], model.cell) for n in names])  # (dirs, G*H, in)
        r = np.stack([_gates(weights[n.format("weight_hh")], model.cell) for n in names])  # (dirs, G*H, H)
        b = np.stack(
            [
                np.concatenate(
                    [_gates(weights[n.format("bias_ih")], model.cell), _gates(weights[n.format("bias_hh")], model.cell)]
                )
                for n in names
            ]
        )  # (dirs, 2*G*H)
        inputs = [
            x,
            constant(f"W{layer}", w.astype(np.float32)),
            constant(f"R{layer}", r.astype(np.float32)),
            constant(f"B{layer}", b.astype(np.float32)),
            "sequence_lens",
        ]
        if anchored:
            inputs += ["", "initial_cells"]  # no initial hidden state; the anchors' cells start at +-10
        nodes.append(helper.make_node(_OP[model.cell], inputs, [f"y{layer}"], name=f"layer{layer}", **attributes))
        # (T, dirs, B, H) -> (T, B, dirs, H) -> (T, B, dirs * H): forward then backward, as torch concatenates
        nodes.append(helper.make_node("Transpose", [f"y{layer}"], [f"y{layer}_tb"], perm=[0, 2, 1, 3]))
        nodes.append(helper.make_node("Reshape", [f"y{layer}_tb", "time_batch_features"], [f"x{layer + 1}"]))
        x = f"x{layer + 1}"
    emit_weight = constant("emit_weight", weights["emit.weight"].T.astype(np.float32))  # (dirs * H, K)
    emit_bias = constant("emit_bias", weights["emit.bias"].astype(np.float32))
    nodes += [
        helper.make_node("Transpose", [x], ["hidden_states"], perm=[1, 0, 2]),  # (B, T, dirs * H)
        helper.make_node("MatMul", ["hidden_states", emit_weight], ["logits"]),
        helper.make_node("Add", ["logits", emit_bias], ["scores"]),  # (B, T, K)
    ]
    graph = helper.make_graph(
        nodes,
        "recurrent",
        [
            helper.make_tensor_value_info("features", TensorProto.FLOAT, ["B", "T", input_size]),
            helper.make_tensor_value_info("lengths", TensorProto.INT64, ["B"]),
        ],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["B", "T", num_labels])],
        initializers,
    )
    proto = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="tagger", ir_version=IR_VERSION
    )
    onnx.checker.check_model(proto)
    return proto


def _anchor_nodes(
    weights: Mapping[str, np.ndarray], model: ModelConfig, constant: Callable[[str, np.ndarray], str]
) -> list[NodeProto]:
    """Nodes that make ``anchored_features`` (B, T, D + 2): the features, clipped to the
    bound (which they never pass: it only makes the range a guarantee), with a column of
    +A and one of -A; and ``initial_cells`` (dirs, B, H + 2) for every layer."""
    bound = feature_bound(weights, model)
    directions = 2 if model.bidirectional else 1
    return [
        helper.make_node("Shape", ["features"], ["feature_shape"]),
        helper.make_node(
            "Slice",
            [
                "feature_shape",
                constant("zero", np.array([0], dtype=np.int64)),
                constant("one", np.array([1], dtype=np.int64)),
            ],
            ["batch"],
        ),
        helper.make_node(
            "Slice", ["feature_shape", "zero", constant("two", np.array([2], dtype=np.int64))], ["batch_time"]
        ),
        helper.make_node("Concat", ["batch_time", "two"], ["anchor_shape"], axis=0),
        helper.make_node(
            "Expand",
            [constant("anchor_values", np.array([[[bound, -bound]]], dtype=np.float32)), "anchor_shape"],
            ["anchor_columns"],
        ),
        helper.make_node(
            "Clip",
            [
                "features",
                constant("low", np.array(-bound, dtype=np.float32)),
                constant("high", np.array(bound, dtype=np.float32)),
            ],
            ["clipped"],
        ),
        helper.make_node("Concat", ["clipped", "anchor_columns"], ["anchored_features"], axis=2),
        helper.make_node(
            "Concat",
            [
                constant("directions", np.array([directions], dtype=np.int64)),
                "batch",
                constant("cells", np.array([model.hidden_size + ANCHORS], dtype=np.int64)),
            ],
            ["cell_shape"],
            axis=0,
        ),
        helper.make_node("Expand", [constant("initial_cell", initial_cells(model)), "cell_shape"], ["initial_cells"]),
    ]
