"""Exporting the recurrent layers and the output layer for the ONNX Runtime backend
(``tagger.portable`` runs them).

PyTorch's CPU LSTM kernels are fast on some x86 CPUs and several times slower on
others; ONNX Runtime's are steadier. Only the recurrent stack and the output projection
are exported (``recurrent.onnx`` in the model directory, built from model.safetensors,
never from a pickle): the embeddings, the character encoder (with its word cache) and
the CRF's Viterbi and marginals run in NumPy from the same weights file.

The exporter cannot take packed sequences, so the export runs a padded twin of the
stack: each direction is a one-layer LSTM, and the backward one reads every sentence
reversed within its own length, so padding comes last for both and never reaches a
real token. Emissions agree with the packed model to float32 rounding (tested); the
labels are checked on the dev sets by ``benchmarks/backends.py``.

A stale export (weights retrained since) is refused: the file records the SHA-256 of
the weights it was made from.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from tagger.errors import TaggerError
from tagger.model import SequenceTagger
from tagger.portable import INT8_FILE, ONNX_FILE, WEIGHTS_KEY, weights_digest


def reverse_within_lengths(x: Tensor, lengths: Tensor) -> Tensor:
    """Each row of ``x`` (B, T, D) reversed over its first ``lengths[b]`` steps, padding
    left in place; applying it twice gives ``x`` back."""
    steps = torch.arange(x.size(1), device=x.device).unsqueeze(0)  # (1, T)
    ends = lengths.to(x.device).unsqueeze(1)  # (B, 1)
    index = torch.where(steps < ends, ends - 1 - steps, steps)  # (B, T)
    return x.gather(1, index.unsqueeze(2).expand(-1, -1, x.size(2)))


class PaddedRecurrent(nn.Module):
    """The tagger's recurrent stack and output layer over padded batches, with the
    trained weights: features (B, T, D) and lengths (B,) -> label scores (B, T, K)."""

    def __init__(self, model: SequenceTagger) -> None:
        super().__init__()
        rnn = model.rnn
        if not isinstance(rnn, nn.LSTM | nn.GRU | nn.RNN):
            raise TaggerError(f"cannot export a {type(rnn).__name__} recurrent layer")
        self.bidirectional = rnn.bidirectional
        directions = ("", "_reverse") if rnn.bidirectional else ("",)
        self.layers: list[list[nn.Module]] = []
        self._modules_list = nn.ModuleList()  # registers the cells as submodules
        for layer in range(rnn.num_layers):
            width = rnn.input_size if layer == 0 else rnn.hidden_size * len(directions)
            pair: list[nn.Module] = []
            for suffix in directions:
                kwargs = {"nonlinearity": rnn.nonlinearity} if isinstance(rnn, nn.RNN) else {}
                cell = type(rnn)(width, rnn.hidden_size, batch_first=True, **kwargs)
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(cell, f"{name}_l0").data.copy_(getattr(rnn, f"{name}_l{layer}{suffix}").data)
                pair.append(cell)
                self._modules_list.append(cell)
            self.layers.append(pair)
        self.emit: nn.Linear = model.emit  # type: ignore[assignment]

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        for directions in self.layers:
            forward, _ = directions[0](x)  # (B, T, H)
            if not self.bidirectional:
                x = forward
                continue
            backward, _ = directions[1](reverse_within_lengths(x, lengths))
            x = torch.cat([forward, reverse_within_lengths(backward, lengths)], dim=2)  # (B, T, 2H)
        return self.emit(x)  # (B, T, K)


def export(directory: str | Path, int8: bool = True) -> list[Path]:
    """Write ``recurrent.onnx`` (and, with ``int8``, ``recurrent-int8.onnx``) into a
    model directory from its safetensors weights."""
    from tagger import checkpoint

    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        raise TaggerError("exporting needs onnx and onnxruntime: pip install 'tagger[onnx]'") from None
    directory = Path(directory)
    loaded = checkpoint.load(directory, "cpu")
    twin = PaddedRecurrent(loaded.model).eval()
    width = loaded.model.rnn.input_size
    example = (torch.zeros(2, 3, width), torch.tensor([3, 2]))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{ONNX_FILE}.")
    os.close(fd)
    with warnings.catch_warnings():  # the exporter's notes on batch_first RNNs, not problems
        warnings.simplefilter("ignore")
        torch.onnx.export(
            twin,
            example,
            tmp,
            dynamo=False,
            input_names=["features", "lengths"],
            output_names=["scores"],
            dynamic_axes={"features": {0: "B", 1: "T"}, "lengths": {0: "B"}, "scores": {0: "B", 1: "T"}},
            opset_version=17,
        )
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
