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
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from safetensors import SafetensorError
from safetensors.numpy import load_file

from tagger.errors import ModelDirError, TaggerError
from tagger.modelfiles import inside, read_model_files
from tagger.portable import INT8_FILE, ONNX_FILE, WEIGHTS_KEY, expected_shapes, shape_problems, weights_digest


def export(directory: str | Path, int8: bool = True) -> list[Path]:
    """Write ``recurrent.onnx`` (and, with ``int8``, ``recurrent-int8.onnx``) into a
    model directory from its safetensors weights."""
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
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # its advice to pre-process is for vision models
        try:
            quantize_dynamic(str(directory / ONNX_FILE), quantized, weight_type=QuantType.QInt8)
        finally:
            root.setLevel(level)
        written.append(_finish(Path(quantized), directory / INT8_FILE, digest))
    return written


def _finish(tmp: Path, target: Path, digest: str) -> Path:
    """Record which weights the graph came from, then put it in place."""
    import onnx

    graph = onnx.load(str(tmp))
    del graph.metadata_props[:]
    graph.metadata_props.add(key=WEIGHTS_KEY, value=digest)
    onnx.save(graph, str(tmp))
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
    return target
