from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tagger.corpus import read_corpus
from tagger.document import DOCUMENT
from tagger.errors import CorpusError
from tagger.pipeline import MAX_PIECE_TOKENS, Tagger
from tagger.tagfiles import tag_stream
from tests.conftest import MODELS

NER = MODELS / "ner-en-conll03"
POS = MODELS / "pos-en-ewt"


@pytest.fixture(scope="module")
def predictor() -> Tagger:
    return Tagger.load([NER, POS], device="cpu")


def run(predictor: Tagger, data: bytes, fmt: str, out_fmt: str = "jsonl", **kw: object) -> str:
    out = io.StringIO()
    tag_stream(predictor, io.BytesIO(data), out, "in.txt", fmt, out_fmt, log=io.StringIO(), **kw)  # type: ignore[arg-type]
    return out.getvalue()


def test_jsonl_records_use_the_service_schema(predictor: Tagger) -> None:
    data = b'{"id": "a", "text": "Angela Merkel visited Paris."}\n\n{"id": 7, "text": ""}\n'
    lines = run(predictor, data, "jsonl").splitlines()
    assert len(lines) == 2
    first = DOCUMENT.validate_json(lines[0])
    assert first.id == "a"
    assert [(e.text, e.label, e.start, e.end) for e in first.entities] == [
        ("Angela Merkel", "PER", 0, 13),
        ("Paris", "LOC", 22, 27),
    ]
    assert first.sentences[0][0].labels["pos-en-ewt"].label == "PROPN"
    assert json.loads(lines[1]) == {"id": "7", "sentences": [], "entities": []}


def test_text_and_lines_inputs(predictor: Tagger) -> None:
    text = b"John lives in Berlin.\nHe likes it.\n\n\nMary is in Rome.\n"
    docs = [json.loads(x) for x in run(predictor, text, "text").splitlines()]
    assert len(docs) == 2 and len(docs[0]["sentences"]) == 2
    assert [e["text"] for e in docs[1]["entities"]] == ["Mary", "Rome"]
    docs = [json.loads(x) for x in run(predictor, text, "lines").splitlines()]
    assert len(docs) == 5  # one record per line, empty lines included, so lines stay aligned


def test_conll_in_conll_out_appends_one_column_per_model(predictor: Tagger, tmp_path: Path) -> None:
    data = b"-DOCSTART- -X- -X- O\n\nJohn NNP B-NP B-PER\nlives VBZ B-VP O\nin IN B-PP O\nBerlin NNP B-NP B-LOC\n\n"
    out = run(predictor, data, "conll", "conll")
    assert out.splitlines()[:3] == ["-DOCSTART- -X- -X- O O O", "", "John NNP B-NP B-PER B-PER PROPN"]
    path = tmp_path / "p.conll"
    path.write_text(out)
    (sentence,) = read_corpus(path, tag_column=4)
    assert sentence.tags == ["B-PER", "O", "O", "B-LOC"]


def test_conllu_output_is_valid_conllu(predictor: Tagger) -> None:
    data = (
        b"# text = I don't know Bob.\n1\tI\t_\t_\t_\t_\t_\t_\t_\t_\n2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n"
        b"2\tdo\t_\t_\t_\t_\t_\t_\t_\t_\n3\tn't\t_\t_\t_\t_\t_\t_\t_\t_\n4\tknow\t_\t_\t_\t_\t_\t_\t_\t_\n"
        b"5\tBob\t_\t_\t_\t_\t_\t_\t_\tSpaceAfter=No\n6\t.\t_\t_\t_\t_\t_\t_\t_\t_\n\n"
    )
    out = run(predictor, data, "conllu", "conllu").splitlines()
    assert out[0] == "# text = I don't know Bob."
    rows = [line.split("\t") for line in out[1:] if line]
    assert all(len(r) == 10 for r in rows)
    assert out[2] == "2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_"  # the multiword range is written back in place
    bob = next(r for r in rows if r[1] == "Bob")
    assert bob[9] == "SpaceAfter=No|ner-en-conll03=B-PER|pos-en-ewt=PROPN"
    assert [r[0] for r in rows] == ["1", "2-3", "2", "3", "4", "5", "6"]


def test_bad_record_stops_after_writing_everything_before_it(predictor: Tagger) -> None:
    data = b'{"text": "Paris"}\n{"text": "Rome"}\n{"txt": "x"}\n{"text": "Oslo"}\n'
    out = io.StringIO()
    with pytest.raises(CorpusError, match=r"^in.txt:3: missing field 'text'$"):
        tag_stream(predictor, io.BytesIO(data), out, "in.txt", "jsonl")
    assert [json.loads(x)["sentences"][0][0]["text"] for x in out.getvalue().splitlines()] == ["Paris", "Rome"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"text": "a"}\n{"text": \n', "in.txt:2: invalid JSON: Expecting value at column 10"),
        (b'{"text": "a"}\n\xff\xfe\n', "in.txt:2: invalid UTF-8 byte 0xff at column 1"),
        (b'["a"]\n', "in.txt:1: expected a JSON object with a 'text' field"),
    ],
)
def test_bad_records_are_skipped_and_reported(predictor: Tagger, data: bytes, message: str) -> None:
    out, log = io.StringIO(), io.StringIO()
    stats = tag_stream(predictor, io.BytesIO(data), out, "in.txt", "jsonl", skip_errors=True, log=log)
    assert stats.skipped == 1
    assert log.getvalue().strip() == f"skipped {message}"


def test_cli_stdin_to_stdout_and_errors(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "tagger", "tag", "-", "--model", str(NER), "--input-format", "lines", "--quiet"]
    done = subprocess.run(cmd, input=b"Angela Merkel visited Paris.\n", capture_output=True, check=True)
    doc = json.loads(done.stdout)
    assert [e["label"] for e in doc["entities"]] == ["PER", "LOC"]
    bad = tmp_path / "in.jsonl"
    bad.write_bytes(b'{"text": "Paris"}\nnot json\n')
    out = tmp_path / "out.jsonl"
    done = subprocess.run([*cmd[:4], str(bad), "-o", str(out), "--model", str(NER)], capture_output=True)
    assert done.returncode == 2
    assert done.stderr.decode().strip().endswith(f"error: {bad}:2: invalid JSON: Expecting value at column 1")
    assert "Traceback" not in done.stderr.decode()
    assert json.loads(out.read_text())["entities"][0]["text"] == "Paris"


def test_lone_surrogate_in_jsonl_is_a_clear_error(predictor: Tagger) -> None:
    with pytest.raises(CorpusError, match=r"^in.txt:1: field 'text': lone surrogate \\ud800 at character 1$"):
        tag_stream(predictor, io.BytesIO(b'{"text": "a\\ud800"}\n'), io.StringIO(), "in.txt", "jsonl")


def test_worker_processes_give_the_same_output_in_input_order(predictor: Tagger) -> None:
    # Small chunks so the two workers really share the input and finish out of order.
    lines = [f"Document {i}: Angela Merkel met {name} in Paris." for i, name in enumerate(["Bob", "Ann", "Li"] * 20)]
    data = ("\n".join(lines) + "\n").encode()
    alone = run(predictor, data, "lines", chunk_chars=200)
    shared = run(predictor, data, "lines", chunk_chars=200, workers=2)
    assert shared == alone
    assert [json.loads(x)["sentences"][0][1]["text"] for x in shared.splitlines()] == [str(i) for i in range(60)]


def test_bad_record_with_workers_keeps_everything_before_it(predictor: Tagger) -> None:
    good = b"".join(b'{"text": "Rome %d"}\n' % i for i in range(30))
    out = io.StringIO()
    with pytest.raises(CorpusError, match=r"^in.txt:31: invalid JSON"):
        tag_stream(predictor, io.BytesIO(good + b"{oops\n"), out, "in.txt", "jsonl", chunk_chars=20, workers=2)
    assert [json.loads(x)["sentences"][0][1]["text"] for x in out.getvalue().splitlines()] == [
        str(i) for i in range(30)
    ]


def test_cuda_gets_no_workers_and_cpu_gets_a_pool(predictor: Tagger) -> None:
    import torch

    from tagger.workers import OrderedRunner, default_workers

    assert default_workers(torch.device("cuda")) == 1
    runner = OrderedRunner(predictor, lambda p, chunk: chunk, workers=4)  # CPU tagger: a real pool
    try:
        assert runner.pool is not None and runner.workers == 4
    finally:
        runner.close()


def _long_conll(n: int) -> bytes:
    return b"".join(b"w%d NN O\n" % i for i in range(n)) + b"\n"


@pytest.mark.parametrize("out_fmt", ["conll", "conllu"])
def test_a_sentence_longer_than_a_piece_keeps_every_input_line(predictor: Tagger, out_fmt: str) -> None:
    """Regression: the 257th token of a long sentence used to start a new sentence and
    repeat the input columns of token 0."""
    n = MAX_PIECE_TOKENS + 1
    if out_fmt == "conll":
        out = run(predictor, _long_conll(n), "conll", "conll").splitlines()
        assert out[-1] == "" and "" not in out[:-1]  # one sentence: a single blank line, at the end
        assert [line.split()[:3] for line in out[:-1]] == [[f"w{i}", "NN", "O"] for i in range(n)]
    else:
        data = b"".join(b"%d\tw%d\t_\t_\t_\t_\t_\t_\t_\t_\n" % (i + 1, i) for i in range(n)) + b"\n"
        out = run(predictor, data, "conllu", "conllu").splitlines()
        assert out[-1] == "" and "" not in out[:-1]
        assert [line.split("\t")[:2] for line in out[:-1]] == [[str(i + 1), f"w{i}"] for i in range(n)]
