"""Range anchors (tagger/onnx_anchors.py): the anchored graph is the same function, the
feature bound holds, and an anchored int8 export scores a sentence alike in any batch."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from tagger import device as device_module
from tagger.batch import encode
from tagger.config import ModelConfig
from tagger.labeler import Labeler
from tagger.model import SequenceTagger
from tagger.onnx_anchors import can_anchor, feature_bound
from tagger.portable import BATCH_INVARIANT_KEY, INT8_FILE, OnnxSession
from tagger.vocab import build_vocab
from tests.test_onnx_backend import SENTENCES, _random_model_dir

ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install '.[onnx]')")


def _random_tagger(**options: object) -> tuple[SequenceTagger, ModelConfig]:
    torch.manual_seed(0)
    settings: dict[str, object] = {"word_dim": 6, "hidden_size": 5, "char_dim": 3, "char_hidden": 4, "casing_dim": 2}
    config = ModelConfig(**{**settings, **options})  # type: ignore[arg-type]
    model = SequenceTagger(config, num_words=10, num_chars=12, num_labels=3).eval()
    with torch.no_grad():  # biases away from zero, so a gate in the wrong place shows
        for name, param in model.named_parameters():
            if "bias" in name:
                param.uniform_(-1, 1)
    return model, config


@pytest.mark.parametrize(
    "options",
    [
        {"num_layers": 2, "char_encoder": "cnn"},
        {"num_layers": 1, "bidirectional": False, "char_encoder": "none"},
        {"num_layers": 3, "char_encoder": "lstm"},
    ],
    ids=["2-layers-cnn", "forward-only", "3-layers-char-lstm"],
)
def test_the_anchored_graph_scores_like_the_plain_one(options: dict[str, object]) -> None:
    from tagger.onnx_graph import recurrent_graph

    model, config = _random_tagger(**options)
    rng = random.Random(0)
    sentences = [
        [rng.choice(["ab", "c", "def", "Ab", "ABC", "x1"]) for _ in range(rng.randint(1, 9))] for _ in range(12)
    ]
    vocab = build_vocab(["ab", "c", "def"], ["O"], min_count=1)
    batch = encode(sentences, vocab, 8)
    with torch.inference_mode():
        features = model.features(batch).numpy()
    weights = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    lengths = batch.lengths.numpy()
    plain, anchored = (
        _run(ort.InferenceSession(recurrent_graph(weights, config, anchored=a).SerializeToString()), features, lengths)
        for a in (False, True)
    )
    mask = batch.mask.numpy()
    assert anchored.shape == plain.shape
    assert anchored[mask] == pytest.approx(plain[mask], abs=1e-5)


@pytest.mark.parametrize("directions", [2, 1])
def test_the_anchor_units_hold_plus_and_minus_one_at_every_step(directions: int) -> None:
    """What makes the ranges constant: read the layers' outputs, not just the scores
    (no real unit reads an anchor, so broken anchors would not change the scores)."""
    from onnx import helper

    from tagger.onnx_graph import recurrent_graph

    model, config = _random_tagger(num_layers=2, bidirectional=directions == 2, char_encoder="none")
    weights = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    graph = recurrent_graph(weights, config, anchored=True)
    layers = [n.output[0] for n in graph.graph.node if n.op_type == "LSTM"]
    graph.graph.output.extend(helper.make_empty_tensor_value_info(name) for name in layers)
    rng = np.random.default_rng(0)
    lengths = np.array([7, 3, 1], dtype=np.int64)
    features = (rng.standard_normal((3, 7, config.word_dim + config.casing_dim)) * 3).astype(np.float32)
    session = ort.InferenceSession(graph.SerializeToString())
    names = [i.name for i in session.get_inputs()]
    outputs = session.run(layers, {k: v for k, v in {"features": features, "lengths": lengths}.items() if k in names})
    hidden = config.hidden_size
    for y in outputs:  # (T, dirs, B, H + 2)
        assert y.shape == (7, directions, 3, hidden + 2)
        for row, length in enumerate(lengths):
            anchors = y[:length, :, row, hidden:]  # (steps, dirs, 2)
            assert (anchors[..., 0] == 1.0).all() and (anchors[..., 1] == -1.0).all()
            assert (np.abs(y[:length, :, row, :hidden]) < 1.0).all()


@pytest.mark.parametrize("encoder", ["cnn", "lstm"])
def test_the_feature_bound_holds_where_the_characters_give_the_largest_features(encoder: str) -> None:
    model, config = _random_tagger(char_encoder=encoder)
    with torch.no_grad():  # shrink the tables, so the character part sets the bound
        model.word_embed.weight.mul_(0.01)
        model.case_embed.weight.mul_(0.01)
    rng = random.Random(1)
    sentences = [
        ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz.-'1") for _ in range(rng.randint(1, 14)))] * 3
        for _ in range(200)
    ]
    batch = encode(sentences, build_vocab(["ab"], ["O"], min_count=1), 16)
    with torch.inference_mode():
        features = model.features(batch).numpy()
    weights = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    largest = float(np.abs(features).max())
    assert largest > 0.05 and largest <= feature_bound(weights, config)


def _run(session: object, features: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    names = [i.name for i in session.get_inputs()]  # type: ignore[attr-defined]
    feeds = {"features": features, "lengths": lengths}
    return session.run(None, {k: v for k, v in feeds.items() if k in names})[0]  # type: ignore[attr-defined,no-any-return]


def test_the_feature_bound_of_a_char_cnn_is_the_largest_output_any_spelling_reaches() -> None:
    model, config = _random_tagger(char_encoder="cnn", char_kernel=3, word_dim=2, casing_dim=0)
    weights = {k: v.detach().numpy().astype(np.float64) for k, v in model.state_dict().items()}
    weights["word_embed.weight"] *= 0.0  # only the characters count here
    kernel, bias, chars = (weights[f"char_encoder.{n}"] for n in ("conv.weight", "conv.bias", "embed.weight"))
    columns = [*chars, np.zeros(chars.shape[1])]  # any character, or the padding past a word's ends
    reached = max(
        float(np.abs(bias + sum(kernel[:, :, j] @ window[j] for j in range(3))).max())
        for window in itertools.product(columns, repeat=3)
    )
    assert feature_bound(weights, config) == pytest.approx(reached, rel=1e-5)


def test_only_lstm_stacks_are_anchored() -> None:
    assert can_anchor(ModelConfig(cell="lstm"))
    assert not can_anchor(ModelConfig(cell="gru")) and not can_anchor(ModelConfig(cell="rnn"))


@pytest.mark.parametrize(("cell", "batched"), [("lstm", True), ("gru", False)])
def test_an_int8_export_scores_each_sentence_alike_in_any_batch_and_on_any_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cell: str, batched: bool
) -> None:
    """An LSTM stack's int8 export is anchored and runs whole batches; a GRU's cannot be,
    and runs one sentence per call. Either way a sentence scores the same everywhere."""
    directory = _random_model_dir(tmp_path / "m", cell=cell, num_layers=2)
    session = OnnxSession(directory, INT8_FILE)
    assert session.per_sentence is not batched
    meta = session._session.get_modelmeta().custom_metadata_map
    assert (meta.get(BATCH_INVARIANT_KEY) == "1") is batched
    sentences = [*SENTENCES, ["Peter", "lives", "in", "NEW", "YORK", "!"], ["x" * 60], ["peter"]] * 2
    runs = []
    for threads in (1, 2):
        monkeypatch.setattr(device_module, "_threads", threads)
        labeler = Labeler.load(directory, device="cpu", backend="onnx-int8")
        runs.append(labeler.label(sentences)["m"])
        runs.append([labeler.label([s])["m"][0] for s in sentences])
        runs.append(labeler.label(sentences[::-1])["m"][::-1])
    scored = [[[(t.label, t.score) for t in s] for s in run] for run in runs]
    assert scored[1:] == scored[:1] * 5


def test_an_anchored_int8_export_gives_each_sentence_the_same_scores_to_the_last_bit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Emission scores as ONNX Runtime returns them (labels' scores are rounded to 4 digits):
    a batch of mixed lengths, each sentence alone, and the batch on two threads."""
    directory = _random_model_dir(tmp_path / "m", cell="lstm", num_layers=2)
    session = OnnxSession(directory, INT8_FILE)
    assert not session.per_sentence
    rng = np.random.default_rng(0)
    lengths = np.array([9, 9, 5, 2, 1], dtype=np.int64)
    features = rng.standard_normal((5, 9, int(session.width or 0))).astype(np.float32)
    batched = session(features, lengths)  # (B, T, K)
    for row, length in enumerate(lengths.tolist()):
        alone = session(features[row : row + 1, :length], lengths[row : row + 1])
        assert np.array_equal(alone[0], batched[row, :length])
    monkeypatch.setattr(device_module, "_threads", 2)
    assert np.array_equal(session(features, lengths), batched)
