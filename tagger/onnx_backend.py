"""Exporting the recurrent layers and the output layer for the ONNX Runtime backend
(``tagger.portable`` runs them).

PyTorch's CPU LSTM kernels are fast on some x86 CPUs and several times slower on
others; ONNX Runtime's are steadier. Only the recurrent stack and the output projection
are exported (``recurrent.onnx`` in the model directory, written by
``tagger.onnx_graph`` from model.safetensors, never from a pickle and without torch):
the embeddings, the character encoder (with its word cache) and the CRF's Viterbi and
marginals run in NumPy from the same weights file. Emissions agree with the packed
torch model to float32 rounding (tested); the labels are checked on the dev sets by
``benchmarks/backends.py``.

A stale export (weights retrained since) is refused: the file records the SHA-256 of
the weights it was made from.

The int8 export is scored against the float one on the model's dev file, where that file
is here, and the two scores are recorded in it: ``auto``, which runs int8 on CPUs with
VNNI, runs the float export instead where they differ by more than
``portable.INT8_TOLERANCE``, so a model that quantizes badly still runs as trained.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from safetensors import SafetensorError
from safetensors.numpy import load_file

from tagger.errors import ModelDirError, TaggerError
from tagger.modelfiles import inside, read_model_files
from tagger.onnx_anchors import can_anchor
from tagger.portable import (
    BATCH_INVARIANT_KEY,
    DEV_SCORES_KEY,
    INT8_FILE,
    INT8_TOLERANCE,
    ONNX_FILE,
    WEIGHTS_KEY,
    expected_shapes,
    shape_problems,
    weights_digest,
)


@dataclass(frozen=True)
class Exported:
    paths: list[Path]  # the files written
    int8_note: str = ""  # the int8 export's dev score against the float one's, or why it has none


def export(directory: str | Path, int8: bool = True) -> Exported:
    """Write ``recurrent.onnx`` (and, with ``int8``, ``recurrent-int8.onnx``, with its dev
    score against the float export's) into a model directory from its safetensors weights."""
    try:
        import onnx
        import onnxruntime  # noqa: F401

        from tagger.onnx_graph import recurrent_graph
    except ImportError:
        raise TaggerError("exporting needs onnx and onnxruntime: pip install 'tagger[onnx]'") from None
    files = read_model_files(directory)
    directory = files.path
    weights_path = inside(directory / "model.safetensors")
    try:
        weights = load_file(str(weights_path))
    except (SafetensorError, OSError) as exc:
        raise ModelDirError(f"{weights_path}: unreadable weights: {exc}") from None
    model = files.config.model
    problems = shape_problems(
        weights, expected_shapes(files)
    )  # the checks loading makes: no export of a model that cannot load
    if problems:
        raise ModelDirError(f"{weights_path}: weights do not match config.json/vocab.json: {'; '.join(problems)}")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{ONNX_FILE}.")
    os.close(fd)
    onnx.save(recurrent_graph(weights, model), tmp)
    digest = weights_digest(directory)
    written = [_finish(Path(tmp), directory / ONNX_FILE, digest)]
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        fd, quantized = tempfile.mkstemp(dir=directory, prefix=f".{INT8_FILE}.")
        os.close(fd)
        source, more = directory / ONNX_FILE, {}
        root = logging.getLogger()
        level = root.level
        try:
            if can_anchor(model):  # batch-invariant ranges: the int8 export runs whole batches
                fd, anchored = tempfile.mkstemp(dir=directory, prefix=f".{ONNX_FILE}.anchored.")
                os.close(fd)
                source, more = Path(anchored), {BATCH_INVARIANT_KEY: "1"}
                onnx.save(recurrent_graph(weights, model, anchored=True), anchored)
            root.setLevel(logging.ERROR)  # its advice to pre-process is for vision models
            quantize_dynamic(str(source), quantized, weight_type=QuantType.QInt8)
        except BaseException:
            Path(quantized).unlink(missing_ok=True)
            raise
        finally:
            root.setLevel(level)
            if source != directory / ONNX_FILE:
                source.unlink(missing_ok=True)
        written.append(_finish(Path(quantized), directory / INT8_FILE, digest, more))
        return Exported(written, _score_int8(directory, digest))
    return Exported(written)


def _score_int8(directory: Path, digest: str) -> str:
    """Score both exports on dev and record the scores in the int8 one; say what came of it."""
    scores = compare_exports(directory)
    if isinstance(scores, str):
        return f"{INT8_FILE} not scored against {ONNX_FILE}: {scores}"
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{INT8_FILE}.")
    os.close(fd)
    os.replace(directory / INT8_FILE, tmp)
    _finish(Path(tmp), directory / INT8_FILE, digest, {DEV_SCORES_KEY: json.dumps(scores)}, keep=True)
    note = f"dev score {scores['float']:.4f} on {ONNX_FILE}, {scores['int8']:.4f} on {INT8_FILE}"
    if abs(scores["int8"] - scores["float"]) > INT8_TOLERANCE:
        return f"{note}: more than {INT8_TOLERANCE} apart, so auto runs {ONNX_FILE}"
    return f"{note} (within {INT8_TOLERANCE}: auto runs {INT8_FILE} on CPUs with VNNI)"


def compare_exports(directory: Path) -> dict[str, float] | str:
    """The model's dev score on the float and on the int8 export, or why it cannot be
    scored here (its dev file elsewhere, seqeval not installed)."""
    from tagger.corpus import read_corpus
    from tagger.evaluate import evaluate
    from tagger.labeler import Labeler

    files = read_model_files(directory)
    data = files.metrics.get("data")
    dev = data.get("dev") if isinstance(data, dict) else None
    if not isinstance(dev, str):
        return "metrics.json names no dev file"
    if not Path(dev).is_file():
        return f"its dev file {dev} is not here"
    fields = files.config.data
    try:
        sentences = read_corpus(dev, fields.format, fields.token_column, fields.tag_column, fields.tag_field)
        on_float = Labeler.load(directory, "cpu", backend="onnx")
        on_int8 = Labeler.load(directory, "cpu", backend="onnx-int8")
        return {
            "float": float(evaluate(on_float, files.name, sentences)["main"]),
            "int8": float(evaluate(on_int8, files.name, sentences)["main"]),
        }
    except ImportError as exc:
        return f"scoring needs {exc.name} (pip install 'tagger[train]')"
    except TaggerError as exc:
        return f"its dev file cannot be scored: {exc}"


def _finish(tmp: Path, target: Path, digest: str, more: dict[str, str] | None = None, keep: bool = False) -> Path:
    """Record which weights the graph came from (and ``more``; with ``keep``, after what
    the file already records), then put it in place."""
    import onnx

    graph = onnx.load(str(tmp))
    kept = {p.key: p.value for p in graph.metadata_props} if keep else {}
    del graph.metadata_props[:]
    for key, value in {**kept, WEIGHTS_KEY: digest, **(more or {})}.items():
        graph.metadata_props.add(key=key, value=value)
    onnx.save(graph, str(tmp))
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
    return target
