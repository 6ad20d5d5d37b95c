"""The onnx backend: the exported graph scores like the packed model, the export runs
under ONNX Runtime with the same labels, and a stale or missing export is a clear error."""

from __future__ import annotations

import json
import logging
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tagger import checkpoint
from tagger import device as device_module
from tagger import labeler as labeler_module
from tagger import onnx_backend as onnx_backend_module
from tagger import portable as portable_module
from tagger.batch import encode
from tagger.config import ModelConfig
from tagger.errors import ModelDirError, TaggerError
from tagger.labeler import Labeler, _resolve_backend
from tagger.model import SequenceTagger
from tagger.portable import INT8_FILE, ONNX_FILE, PortableModel
from tests.conftest import MODELS, ROOT

ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install '.[onnx]')")


@pytest.mark.parametrize(
    "options",
    [
        {"cell": "lstm", "num_layers": 2},
        {"cell": "gru", "num_layers": 1},
        {"cell": "rnn", "num_layers": 3, "bidirectional": False},
        {"cell": "rnn", "num_layers": 1, "rnn_nonlinearity": "relu"},
        {"cell": "lstm", "num_layers": 1, "bidirectional": False},
    ],
    ids=lambda o: f"{o['cell']}-{o['num_layers']}-{o.get('rnn_nonlinearity', '')}{o.get('bidirectional', True)}",
)
def test_the_onnx_graph_scores_like_the_packed_model(options: dict[str, object]) -> None:
    """The graph written from the weights alone, run by ONNX Runtime, against torch's
    packed stack on sentences of mixed lengths in one padded batch."""
    from tagger.onnx_graph import recurrent_graph

    torch.manual_seed(0)
    config = ModelConfig(word_dim=6, hidden_size=5, char_encoder="none", casing_dim=2, **options)  # type: ignore[arg-type]
    model = SequenceTagger(config, num_words=10, num_chars=4, num_labels=3).eval()
    with torch.no_grad():  # biases away from zero, so a gate in the wrong place shows
        for name, param in model.named_parameters():
            if "bias" in name:
                param.uniform_(-1, 1)
    rng = random.Random(0)
    sentences = [[rng.choice("abcdef") for _ in range(rng.randint(1, 9))] for _ in range(12)]
    from tagger.vocab import build_vocab

    vocab = build_vocab(list("abcdef"), ["O"], min_count=1)
    batch = encode(sentences, vocab, 8)
    with torch.inference_mode():
        packed = model.emissions(batch)
        features = model.features(batch).numpy()
    weights = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    session = ort.InferenceSession(
        recurrent_graph(weights, config).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    (scores,) = session.run(None, {"features": features, "lengths": batch.lengths.numpy()})
    mask = batch.mask.numpy()
    assert scores.shape == tuple(packed.shape)
    assert scores[mask] == pytest.approx(packed[batch.mask].numpy(), abs=1e-5)


def _exported(model_dir: Path) -> Path:
    done = subprocess.run(
        [sys.executable, "-m", "tagger", "export-onnx", str(model_dir)], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    wrote, note = done.stdout.splitlines()[:2], done.stdout.splitlines()[2:]
    assert wrote == [f"wrote {model_dir / ONNX_FILE}", f"wrote {model_dir / INT8_FILE}"]
    assert len(note) == 1 and re.match(rf"(dev score .* on {ONNX_FILE}|{INT8_FILE} not scored against)", note[0])
    return model_dir


SENTENCES = [
    ["Peter", "Blackburn", "lives", "in", "Berlin", "."],
    ["EU", "rejects", "German", "call", "."],
    ["John"],
    ["Acme", "Corp", "visited", "New", "York", "with", "John", "and", "Peter", "."] * 3,
]


def test_the_export_labels_like_torch(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _exported(model_dir)
    on_torch = Labeler.load(model_dir, device="cpu", backend="torch")
    on_onnx = Labeler.load(model_dir, device="cpu", backend="onnx")
    assert (on_onnx.backend("m"), on_torch.backend("m")) == ("onnx", "torch")
    expected, got = on_torch.label(SENTENCES)["m"], on_onnx.label(SENTENCES)["m"]
    assert [[t.label for t in s] for s in got] == [[t.label for t in s] for s in expected]
    for a, b in zip(expected, got, strict=True):
        assert [t.score for t in b] == pytest.approx([t.score for t in a], abs=1e-4)
    # auto takes an export on CPU (labeler.AUTO_CPU): int8 where the CPU has VNNI (and its dev
    # score at export was within the tolerance of the float one's), else float
    monkeypatch.setattr(labeler_module, "cpu_has_vnni", lambda: True)
    within = not PortableModel.load(model_dir, INT8_FILE).session.beyond_tolerance  # type: ignore[union-attr]
    assert Labeler.load(model_dir, device="cpu").backend("m") == ("onnx-int8" if within else "onnx")
    monkeypatch.setattr(labeler_module, "cpu_has_vnni", lambda: False)
    assert Labeler.load(model_dir, device="cpu").backend("m") == "onnx"
    # int8 weights: most labels as the float model's (a tiny model has little to lose)
    on_int8 = Labeler.load(model_dir, device="cpu", backend="onnx-int8")
    assert on_int8.backend("m") == "onnx-int8"
    int8 = on_int8.label(SENTENCES)["m"]
    same = sum(a.label == b.label for x, y in zip(expected, int8, strict=True) for a, b in zip(x, y, strict=True))
    assert same >= 0.9 * sum(len(x) for x in expected)


@pytest.mark.parametrize("model", ["ner-en-conll03", "pos-en-ewt"])
def test_int8_scores_never_depend_on_the_batch_or_the_threads(model: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dynamic quantization scales each product by its own range; the shipped int8 exports
    pin those ranges with anchors (tagger/onnx_anchors.py) and run whole batches: a sentence
    scores the same alone, in any batch, on any number of threads (unanchored and batched,
    1 label of CoNLL-2003 dev's 51,362 and probabilities up to 0.007 moved between 1 and 2
    threads)."""
    sentences = [*SENTENCES, ["angela", "merkel", "visited", "paris", "."], ["Xyzzyville", "'s", "3.5%", "rise"]] * 3
    runs = []
    for threads in (1, 2):
        monkeypatch.setattr(device_module, "_threads", threads)
        labeler = Labeler.load(MODELS / model, device="cpu", backend="onnx-int8")
        runs.append(labeler.label(sentences)[model])
        runs.append([labeler.label([s])[model][0] for s in sentences])
    scored = [[[(t.label, t.score) for t in s] for s in run] for run in runs]
    assert scored[1:] == scored[:1] * 3


def test_auto_without_an_export_is_torch_and_onnx_says_how_to_make_one(model_dir: Path) -> None:
    assert Labeler.load(model_dir, device="cpu").backend("m") == "torch"
    with pytest.raises(ModelDirError, match=f"no {ONNX_FILE}; make it with `tagger export-onnx {model_dir}`"):
        Labeler.load(model_dir, device="cpu", backend="onnx")
    with pytest.raises(TaggerError, match="unknown backend 'tensorrt'; expected one of auto, torch, onnx, onnx-int8"):
        Labeler.load(model_dir, device="cpu", backend="tensorrt")  # type: ignore[arg-type]


def test_without_torch_a_model_without_an_export_says_what_to_do(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` fails, as in a torch-free install
    with pytest.raises(
        TaggerError, match=f"torch is not installed, and the onnx backends need {ONNX_FILE} in {model_dir}"
    ):
        Labeler.load(model_dir, device="cpu")


def test_without_torch_the_commands_that_need_it_say_so(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tagger.cli import main

    monkeypatch.setitem(sys.modules, "torch", None)
    for command in (["train", "--train", "x", "--dev", "y", "--output", "z"], ["evaluate", str(model_dir), "x"]):
        assert main(command) == 2
        name = command[0]
        assert (
            capsys.readouterr().err
            == f"error: {name} needs torch, which is not installed here (pip install torch==2.13.0)\n"
        )


def test_export_needs_no_torch_and_its_graph_labels_like_torch(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The torch-free image can export a model it was given without one."""
    from tagger.cli import main

    expected = Labeler.load(model_dir, device="cpu", backend="torch").label(SENTENCES)["m"]
    with monkeypatch.context() as without_torch:
        without_torch.setitem(sys.modules, "torch", None)  # `import torch` fails, as in the torch-free image
        assert main(["export-onnx", str(model_dir)]) == 0
    written = capsys.readouterr().out.splitlines()[:2]
    assert written == [f"wrote {model_dir / ONNX_FILE}", f"wrote {model_dir / INT8_FILE}"]
    got = Labeler.load(model_dir, device="cpu", backend="onnx").label(SENTENCES)["m"]
    assert [[t.label for t in s] for s in got] == [[t.label for t in s] for s in expected]
    for a, b in zip(expected, got, strict=True):
        assert [t.score for t in b] == pytest.approx([t.score for t in a], abs=1e-4)


def test_export_of_weights_unlike_the_config_names_them(model_dir: Path) -> None:
    from safetensors.numpy import load_file, save_file

    from tagger.onnx_backend import export

    weights = load_file(str(model_dir / "model.safetensors"))
    del weights["rnn.weight_hh_l0"]
    weights["emit.bias"] = weights["emit.bias"][:-1]
    save_file(weights, str(model_dir / "model.safetensors"))
    with pytest.raises(ModelDirError, match=r"model.safetensors: weights do not match config.json/vocab.json: ") as err:
        export(model_dir)
    assert "rnn.weight_hh_l0 missing" in str(err.value)
    assert "emit.bias has shape" in str(err.value)
    assert not (model_dir / ONNX_FILE).exists()


def test_an_export_of_other_weights_is_refused(
    model_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _exported(model_dir)
    loaded = checkpoint.load(model_dir)
    with torch.no_grad():
        loaded.model.emit.bias.add_(1.0)  # retrained, say
    checkpoint.save_weights(loaded.model, model_dir)
    with pytest.raises(ModelDirError, match=r"made from other weights than model\.safetensors; export it again"):
        Labeler.load(model_dir, device="cpu", backend="onnx")
    with pytest.raises(ModelDirError, match="made from other weights"):
        Labeler.load(model_dir, device="cpu", backend="onnx-int8")
    # auto never runs a stale export: the retrained weights run on torch, with a warning
    with caplog.at_level(logging.WARNING, logger="tagger"):
        assert Labeler.load(model_dir, device="cpu").backend("m") == "torch"
    assert "made from other weights than model.safetensors" in caplog.text and "running on torch" in caplog.text


def test_auto_on_a_vnni_cpu_takes_the_float_export_where_the_int8_one_is_missing_or_stale(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(labeler_module, "cpu_has_vnni", lambda: True)
    _exported(model_dir)
    (model_dir / INT8_FILE).unlink()
    assert Labeler.load(model_dir, device="cpu").backend("m") == "onnx"
    # An int8 export of earlier weights beside a float export of these: the float one runs.
    stale = model_dir.parent / "stale"
    shutil.copytree(model_dir, stale)
    loaded = checkpoint.load(stale)
    with torch.no_grad():
        loaded.model.emit.bias.add_(1.0)
    checkpoint.save_weights(loaded.model, stale)
    _exported(stale)
    shutil.copy(stale / INT8_FILE, model_dir / INT8_FILE)
    with pytest.raises(ModelDirError, match="made from other weights"):
        Labeler.load(model_dir, device="cpu", backend="onnx-int8")
    assert Labeler.load(model_dir, device="cpu").backend("m") == "onnx"


def test_an_int8_export_scored_too_far_from_the_float_one_is_not_run_by_auto(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export records both dev scores in the int8 file; auto runs float beyond the tolerance."""
    from tagger.onnx_backend import export

    monkeypatch.setattr(labeler_module, "cpu_has_vnni", lambda: True)
    monkeypatch.setattr(portable_module, "INT8_TOLERANCE", -1.0)  # any difference is too much
    monkeypatch.setattr(onnx_backend_module, "INT8_TOLERANCE", -1.0)
    exported = export(model_dir)
    assert exported.paths == [model_dir / ONNX_FILE, model_dir / INT8_FILE]
    scores = rf"dev score 0\.\d{{4}} on {ONNX_FILE}, 0\.\d{{4}} on {INT8_FILE}"
    assert re.fullmatch(rf"{scores}: more than -1\.0 apart, so auto runs {ONNX_FILE}", exported.int8_note)
    assert Labeler.load(model_dir, device="cpu").backend("m") == "onnx"
    assert Labeler.load(model_dir, device="cpu", backend="onnx-int8").backend("m") == "onnx-int8"  # when asked for
    # Recording the scores kept what the export recorded before: it still runs whole batches.
    session = portable_module.OnnxSession(model_dir, INT8_FILE)
    recorded = session._session.get_modelmeta().custom_metadata_map
    assert recorded[portable_module.BATCH_INVARIANT_KEY] == "1" and portable_module.DEV_SCORES_KEY in recorded
    assert not session.per_sentence
    monkeypatch.setattr(portable_module, "INT8_TOLERANCE", 1.0)
    assert Labeler.load(model_dir, device="cpu").backend("m") == "onnx-int8"


def test_an_export_without_its_dev_file_says_so_and_is_run(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tagger.onnx_backend import export

    monkeypatch.setattr(labeler_module, "cpu_has_vnni", lambda: True)
    metrics = json.loads((model_dir / "metrics.json").read_text())
    metrics["data"]["dev"] = str(model_dir / "elsewhere.conll")
    (model_dir / "metrics.json").write_text(json.dumps(metrics))
    note = export(model_dir).int8_note
    elsewhere = model_dir / "elsewhere.conll"
    assert note == f"{INT8_FILE} not scored against {ONNX_FILE}: its dev file {elsewhere} is not here"
    assert Labeler.load(model_dir, device="cpu").backend("m") == "onnx-int8"


def test_forked_workers_tag_with_the_int8_export_as_in_process(model_dir: Path, tmp_path: Path) -> None:
    """Byte for byte: one process on several threads, or two worker processes on one each:
    the anchored int8 export's ranges are constants, so no score moves."""
    _exported(model_dir)
    text = tmp_path / "in.txt"
    text.write_text("\n".join(" ".join(s) for s in SENTENCES * 250) + "\n", encoding="utf-8")  # ~4 chunks
    outputs = []
    for flags in (["--workers", "1", "--threads", "2"], ["--workers", "2"]):
        command = [sys.executable, "-m", "tagger", "tag", str(text), "--input-format", "lines", "--quiet"]
        command += ["--model", str(model_dir), "--backend", "onnx-int8", *flags]
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert len(outputs[0].splitlines()) == 4 * 250
    assert outputs[1] == outputs[0]


def test_forked_workers_tag_with_the_export_like_in_process_torch(model_dir: Path, tmp_path: Path) -> None:
    _exported(model_dir)
    text = tmp_path / "in.txt"
    text.write_text("\n".join(" ".join(s) for s in SENTENCES * 250) + "\n", encoding="utf-8")  # ~4 chunks

    def tag(*flags: str) -> str:
        command = [sys.executable, "-m", "tagger", "tag", str(text), "--input-format", "lines", "--model"]
        done = subprocess.run(
            [*command, str(model_dir), "--quiet", *flags], capture_output=True, text=True, cwd=ROOT, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    reference = tag("--workers", "1", "--backend", "torch")
    assert len(reference.splitlines()) == 4 * 250
    assert _same_labels(tag("--workers", "2", "--backend", "onnx"), reference)


def _same_labels(a: str, b: str) -> bool:
    """Equal up to the scores' last digit (float32 rounding differs between backends)."""

    def labels(text: str) -> list[list[str]]:
        documents = [json.loads(line) for line in text.splitlines()]
        return [[t["labels"]["m"]["label"] for s in doc["sentences"] for t in s] for doc in documents]

    return labels(a) == labels(b)


def test_copying_a_model_directory_keeps_its_export_valid(model_dir: Path, tmp_path: Path) -> None:
    _exported(model_dir)
    copy = tmp_path / "copy"
    shutil.copytree(model_dir, copy)
    assert Labeler.load(copy, device="cpu", backend="onnx").backend("copy") == "onnx"


def test_the_onnx_backends_refuse_a_gpu_and_auto_keeps_torch_there(model_dir: Path) -> None:
    _exported(model_dir)
    # The choice is made before anything runs, so no GPU is needed to check it.
    with pytest.raises(TaggerError, match="the onnx-int8 backend runs on CPU only, not cuda:0"):
        Labeler.load(model_dir, device="cuda:0", backend="onnx-int8")
    assert _resolve_backend("auto", "cuda:0", [model_dir]) == "torch"


@pytest.mark.parametrize("model", ["ner-en-conll03", "pos-en-ewt"])  # char CNN; char BiLSTM
def test_shipped_models_label_alike_on_both_backends(model: str) -> None:
    """Everything but the recurrent layers runs in NumPy on the onnx backend (lookups,
    the character encoder, the CRF): the same labels, the same scores to float rounding."""
    sentences = [*SENTENCES, ["angela", "merkel", "visited", "paris", "."], ["Xyzzyville", "'s", "3.5%", "rise"]]
    expected = Labeler.load(MODELS / model, device="cpu", backend="torch", char_cache=4).label(sentences)[model]
    for cache in (0, 4):  # without the word cache, and with one small enough to evict
        got = Labeler.load(MODELS / model, device="cpu", backend="onnx", char_cache=cache).label(sentences * 2)[model]
        assert [[t.label for t in s] for s in got] == [[t.label for t in s] for s in expected * 2]
        for a, b in zip(expected * 2, got, strict=True):
            assert [t.score for t in b] == pytest.approx([t.score for t in a], abs=1e-4)


def _character_vectors_checked(model_name: str, letters: str, count: int, seed: int, torch_atol: float) -> int:
    """Character vectors of ``count`` random words computed together: each word's is
    the one it gets alone (to float rounding) and torch's encoder's. Returns the
    longest word's length in characters, as the encoder reads it."""
    import numpy as np

    from tagger.batching import encode_arrays

    model = PortableModel.load(MODELS / model_name)
    rng = random.Random(seed)
    words = list(dict.fromkeys("".join(rng.choices(letters, k=rng.randint(1, 40))) for _ in range(count)))
    arrays = encode_arrays([words], model.vocab, model.config.model.max_word_chars)
    together = model.char_vectors(arrays.chars, arrays.char_lengths)  # (U, Dc)
    for i in range(len(words)):
        alone = model.char_vectors(arrays.chars[i : i + 1], arrays.char_lengths[i : i + 1])
        np.testing.assert_allclose(together[i], alone[0], atol=1e-5)
    torch_model = checkpoint.load(MODELS / model_name).model
    with torch.no_grad():
        want = torch_model.char_encoder(torch.from_numpy(arrays.chars), torch.from_numpy(arrays.char_lengths))
    np.testing.assert_allclose(together, want.numpy(), atol=torch_atol)
    return int(arrays.char_lengths.max())


def test_the_character_cnn_gives_each_word_its_own_vector_in_length_groups() -> None:
    """Many words run through the CNN in groups of similar length (less padding), each
    back in its own row."""
    assert portable_module.CNN_GROUPED_FROM <= 300  # enough words that the CNN groups them
    longest = _character_vectors_checked("ner-en-conll03", "abcdefghijklmnopqrstuvwxyzÄé-0.'", 300, 0, 1e-4)
    assert longest == 32  # words cut at max_word_chars, beside one-letter ones


def test_the_character_lstm_reads_each_word_to_its_own_end() -> None:
    """The NumPy character BiLSTM runs words longest first and stops each at its length."""
    assert PortableModel.load(MODELS / "pos-en-ewt").config.model.char_encoder == "lstm"
    _character_vectors_checked("pos-en-ewt", "abcdefghijklmnopqrstuvwxyz-'.", 120, 1, 1e-5)


def test_the_word_table_stays_as_stored_so_each_worker_holds_half() -> None:
    """The 200k-word table is stored in float16; widened to float32 at load it took 40 MB
    per model in every worker. Only the rows looked up are widened (exactly)."""
    import numpy as np

    from tagger.portable import PortableModel

    model = PortableModel.load(MODELS / "ner-en-conll03")
    table = model.weights["word_embed.weight"]
    assert table.dtype == np.float16 and table.nbytes == table.size * 2
    assert all(v.dtype == np.float32 for k, v in model.weights.items() if k != "word_embed.weight")


def test_tagging_on_the_onnx_backend_never_imports_torch(tmp_path: Path) -> None:
    """The point of the portable path: start-up without torch's import (a second)."""
    text = tmp_path / "in.txt"
    text.write_text("Angela Merkel visited Paris.\nThe U.S. Army said so.\n", encoding="utf-8")
    probe = (
        "import sys, runpy; sys.argv = ['tagger', 'tag', sys.argv[1], '--input-format', 'lines', '--quiet', "
        "'--backend', 'onnx-int8', '--workers', '1', '-o', sys.argv[2]]\n"
        "from tagger.cli import main\n"
        "code = main()\n"
        "assert code == 0, code\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))\n"
    )
    out = tmp_path / "out.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", probe, str(text), str(out)], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [[e["text"] for e in r["entities"] if e["model"] == "ner-en-conll03"] for r in records] == [
        ["Angela Merkel", "Paris"],
        ["U.S. Army"],
    ]


def test_the_service_setting_names_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from api.settings import Settings

    monkeypatch.setenv("TAGGER_BACKEND", "onnx-int8")
    assert Settings().backend == "onnx-int8"
    monkeypatch.setenv("TAGGER_BACKEND", "tensorrt")
    with pytest.raises(ValidationError, match="backend"):
        Settings()


def _random_model_dir(directory: Path, **model: object) -> Path:
    """A model directory with random weights (fixed seed) for the given model options,
    exported: every code path of the NumPy side, without training."""
    from tagger.config import Config
    from tagger.tags import TagScheme
    from tagger.vocab import build_vocab

    torch.manual_seed(0)
    config = Config()
    config.model.word_dim, config.model.hidden_size, config.model.char_hidden, config.model.char_dim = 8, 6, 5, 4
    for key, value in model.items():
        setattr(config.model, key, value)
    words = ["peter", "lives", "in", "berlin", "new", "york", "acme", "corp", "."]
    vocab = build_vocab(words, ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "E-PER", "S-LOC"], min_count=1)
    scheme = TagScheme.BIOES
    built = checkpoint.build_model(config, vocab, scheme)
    with torch.no_grad():  # emissions with some spread, so labels are not all one
        built.emit.weight.mul_(20.0)
    checkpoint.save_static(directory, config, vocab, "ner", scheme)
    checkpoint.save_weights(built, directory)
    return _exported(directory)


@pytest.mark.parametrize(
    "options",
    [
        {"char_encoder": "none"},
        {"char_encoder": "lstm", "casing_dim": 0},
        {"char_encoder": "cnn", "char_kernel": 5, "head": "softmax"},
        {"char_encoder": "cnn", "char_kernel": 4},  # even: torch and NumPy take the same windows
        {"cell": "gru", "num_layers": 1, "sentence_casing": True},
        {"cell": "lstm", "num_layers": 3, "context_sentences": 1},
        {"cell": "lstm", "num_layers": 2, "bidirectional": False},  # its export takes no lengths
    ],
    ids=[
        "no-chars",
        "char-lstm-no-casing",
        "cnn5-softmax",
        "cnn4",
        "gru-sentence-casing",
        "3-layers-context",
        "forward-only",
    ],
)
def test_every_model_option_labels_alike_on_both_backends(tmp_path: Path, options: dict[str, object]) -> None:
    directory = _random_model_dir(tmp_path / "m", **options)
    sentences = [*SENTENCES, ["Peter", "lives", "in", "NEW", "YORK", "!"], ["x" * 60]]  # a word past max_word_chars
    documents = [0, 0, 1, 1, 2, 2]
    expected = Labeler.load(directory, device="cpu", backend="torch").label(sentences, documents=documents)["m"]
    got = Labeler.load(directory, device="cpu", backend="onnx").label(sentences, documents=documents)["m"]
    assert [[t.label for t in s] for s in got] == [[t.label for t in s] for s in expected]
    assert len({t.label for s in expected for t in s}) > 1
    for a, b in zip(expected, got, strict=True):
        assert [t.score for t in b] == pytest.approx([t.score for t in a], abs=1.5e-4)  # at most one rounding step


def test_a_worker_forked_after_tagging_in_the_parent_does_not_hang(tmp_path: Path) -> None:
    """A library user tags in-process with threads, then tags a file with workers: each
    worker opens its own session and keeps (never frees) the one it inherited."""
    script = (
        "import io, sys\n"
        "from tagger.device import set_threads\n"
        "from tagger.pipeline import Tagger\n"
        "from tagger.tagfiles import tag_stream\n"
        "set_threads(2)\n"
        f"tagger = Tagger.load({str(MODELS / 'ner-en-conll03')!r}, backend='onnx')\n"
        "tagger('Angela Merkel visited Paris.')\n"
        "text = ('John lives in Berlin .\\n' * 2000).encode()\n"
        "out = io.StringIO()\n"
        "stats = tag_stream(tagger, io.BytesIO(text), out, 'x', 'lines', workers=2)\n"
        "print(stats.documents)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2000"


def test_weights_unlike_the_config_are_refused_when_loading(tmp_path: Path) -> None:
    copy = tmp_path / "ner"
    shutil.copytree(MODELS / "ner-en-conll03", copy)
    config = json.loads((copy / "config.json").read_text())
    config["model"]["char_hidden"] = 40  # the weights have 50 filters
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        ModelDirError, match=r"char_encoder\.conv\.weight has shape \(50, 30, 3\), config implies \(40, 30, 3\)"
    ):
        Labeler.load(copy, device="cpu", backend="onnx")


def test_without_torch_info_and_the_torch_backend_say_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tagger.cli import main

    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.delitem(sys.modules, "tagger.checkpoint", raising=False)
    assert main(["info", str(MODELS / "ner-en-conll03")]) == 0  # on the onnx backend
    assert "ner-en-conll03: task ner" in capsys.readouterr().out
    with pytest.raises(TaggerError, match=r"torch is not installed: the torch backend needs it"):
        Labeler.load(MODELS / "ner-en-conll03", device="cpu", backend="torch")


@pytest.mark.parametrize("threads", [1, 2])
def test_the_onnx_backend_batches_mixed_lengths_apart_with_the_same_labels(
    threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ONNX Runtime runs every padded step, so a chunk of long and short sentences is
    not padded into one batch: the padding is cut while the labels stay those of each
    sentence labelled alone."""
    import numpy as np

    import tagger.portable
    import tagger.portable_runner
    from tagger.batching import DEFAULT_BATCH_TOKENS, token_budget_batches

    monkeypatch.setattr(tagger.portable, "inference_threads", lambda: threads)  # the session's threads
    monkeypatch.setattr(tagger.portable_runner, "inference_threads", lambda: threads)  # the batch overhead
    long = [
        "The",
        "European",
        "Commission",
        "said",
        "on",
        "Thursday",
        "it",
        "disagreed",
        "with",
        "German",
        "advice",
        "to",
        "consumers",
    ]
    sentences = [long * 3 if i % 4 == 0 else ["Peter", "Blackburn"] for i in range(40)]  # 10 x 39 tokens, 30 x 2
    labeler = Labeler.load(MODELS / "ner-en-conll03", device="cpu", backend="onnx")
    runner = labeler._runners["ner-en-conll03"]
    padded: list[int] = []
    scores = runner.scores

    def counting_scores(sentences: list[list[str]]) -> np.ndarray:
        padded.append(len(sentences) * max(len(s) for s in sentences))
        return scores(sentences)

    monkeypatch.setattr(runner, "scores", counting_scores)
    got = labeler.label(sentences)["ner-en-conll03"]
    filled = sum(len(b) * 39 for b in token_budget_batches([len(s) for s in sentences], DEFAULT_BATCH_TOKENS))
    assert filled == 40 * 39
    assert sum(padded) == 10 * 39 + 30 * 2  # two batches, no padding
    alone = [labeler.label([s])["ner-en-conll03"][0] for s in sentences[:2]]
    assert [[t.label for t in s] for s in got[:2]] == [[t.label for t in s] for s in alone]
    assert [t.label for t in got[1]] == ["B-PER", "I-PER"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"hidden_size": 64}, "rnn.weight_ih_l0 has shape"),
        ({"head": "softmax"}, "crf.end, crf.start, crf.transitions not in the configured model"),
        ({"cell": "gru"}, "rnn.weight_ih_l0 has shape"),
        ({"bidirectional": False}, "rnn.bias_hh_l0_reverse"),
        ({"num_layers": 2}, "rnn.weight_ih_l1 missing"),
    ],
)
def test_the_onnx_backend_refuses_a_config_that_contradicts_the_weights(
    model_dir: Path, change: dict[str, object], named: str
) -> None:
    """Regression: with hidden_size, head, cell or direction edited in config.json, torch
    refused the model but the onnx backend (the default on CPU) tagged with it."""
    _exported(model_dir)
    path = model_dir / "config.json"
    config = json.loads(path.read_text())
    config["model"].update(change)
    path.write_text(json.dumps(config))
    with pytest.raises(ModelDirError, match=r"weights do not match config\.json/vocab\.json") as refused:
        Labeler.load(model_dir, device="cpu", backend="onnx")
    assert named in str(refused.value)
    with pytest.raises(ModelDirError, match=r"weights do not match config\.json/vocab\.json"):
        from tagger.onnx_backend import export

        export(model_dir)


@pytest.mark.parametrize(
    ("recorded", "beyond"),
    [
        (None, False),  # exported before the scores were recorded, or not scored
        ('{"float": 0.9, "int8": 0.8995}', False),
        ('{"float": 0.9, "int8": 0.89}', True),
        ('{"float": 0.9, "int8": 0.91}', True),  # better by that much is as suspect
        ("not json", False),  # unreadable: as if none were recorded
        ('{"float": 0.9}', False),
    ],
)
def test_recorded_dev_scores_are_read_leniently(recorded: str | None, beyond: bool) -> None:
    assert portable_module._beyond_tolerance(recorded) is beyond
