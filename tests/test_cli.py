"""The command line: one-line errors, exit codes, the same validation on every path."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tagger.cli import main
from tests.api.conftest import serving
from tests.conftest import MODELS, NER_TRAIN

NER = MODELS / "ner-en-conll03"


def test_cli_info_and_evaluate(model_dir: Path, ner_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(model_dir)]) == 0
    out = capsys.readouterr().out
    assert "task ner" in out and "B-PER" in out
    assert main(["evaluate", str(model_dir), str(ner_file), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["micro"]) >= {"precision", "recall", "f1"}
    assert 0.0 <= result["micro"]["f1"] <= 1.0
    assert set(result["per_type"]) <= {"PER", "LOC", "ORG", "MISC"}
    assert "strict" in result and 0.0 <= result["accuracy"] <= 1.0


def test_cli_errors_are_one_line(model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("a B-PER\nb\n", encoding="utf-8")
    assert main(["evaluate", str(model_dir), str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: {bad}:2: expected 2 columns as on earlier lines, found 1"
    assert main(["info", str(tmp_path / "missing")]) == 2
    assert "no such model directory" in capsys.readouterr().err


def test_cli_config_file_and_flags(ner_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[model]\nhidden_size = 8\nword_dim = 8\nchar_encoder = 'none'\n[train]\nepochs = 1\n")
    args = [
        "train",
        "--train",
        str(ner_file),
        "--dev",
        str(ner_file),
        "--output",
        str(tmp_path / "m"),
        "--config",
        str(cfg),
        "--quiet",
        "--cell",
        "gru",
        "--no-bidirectional",
    ]
    assert main(args) == 0
    saved = json.loads((tmp_path / "m" / "config.json").read_text())
    assert saved["model"]["hidden_size"] == 8 and saved["model"]["cell"] == "gru"
    assert saved["model"]["bidirectional"] is False and saved["train"]["epochs"] == 1
    cfg.write_text("[model]\nhiden_size = 8\n")
    assert main(args) == 2
    assert "unknown field 'model.hiden_size'" in capsys.readouterr().err
    cfg.write_text("[model]\ncell = 'tcn'\n")
    assert main(args[:-3]) == 2
    assert "model.cell: Input should be 'lstm', 'gru' or 'rnn' (got 'tcn')" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--hidden-size", "0", "model.hidden_size: Input should be greater than or equal to 1 (got 0)"),
        ("--dropout", "5.0", "model.dropout: Input should be less than 1 (got 5.0)"),
        ("--num-layers", "0", "model.num_layers: Input should be greater than or equal to 1 (got 0)"),
        ("--batch-size", "0", "train.batch_size: Input should be greater than or equal to 1 (got 0)"),
        ("--hidden-size", "1000000", "model.hidden_size: Input should be less than or equal to 8192"),
    ],
)
def test_bad_settings_are_one_line_errors(
    ner_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, message: str
) -> None:
    args = ["train", "--train", str(ner_file), "--dev", str(ner_file), "--output", str(tmp_path / "m"), flag, value]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_train_device_is_checked(ner_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["train", "--train", str(ner_file), "--dev", str(ner_file), "--output", str(tmp_path / "m"), "--quiet"]
    assert main([*args, "--device", "tpu"]) == 2
    assert "unknown device 'tpu'" in capsys.readouterr().err
    assert main([*args, "--device", "cpu", "--epochs", "1", "--hidden-size", "8"]) == 0
    assert json.loads((tmp_path / "m" / "metrics.json").read_text())["device"] == "cpu"


def test_sigterm_stops_training_with_exit_143_and_a_loadable_model(tmp_path: Path) -> None:
    data = tmp_path / "train.txt"
    data.write_text(NER_TRAIN * 40, encoding="utf-8")
    cmd = [sys.executable, "-m", "tagger", "train", "--train", str(data), "--dev", str(data)]
    cmd += ["--output", str(tmp_path / "m"), "--epochs", "1000", "--hidden-size", "8", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not (tmp_path / "m" / "model.safetensors").is_file() and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, out
    assert "interrupted: keeping the best model so far" in out
    assert main(["info", str(tmp_path / "m")]) == 0


# The same malformed inputs through `tagger evaluate`, `tagger tag` and `POST /tag`: one
# reader per format and one validation, so the words are the same wherever they apply.
BAD_CONLL = b"a X B-PER\nb O\n\n"
BAD_UTF8_LINE = b"caf\xe9 O O\n"


def _tag(tmp_path: Path, data: bytes, fmt: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"in.{fmt}"
    path.write_bytes(data)
    cmd = [sys.executable, "-m", "tagger", "tag", str(path), "--input-format", fmt, "--model", str(NER), "--quiet"]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def _evaluate(tmp_path: Path, data: bytes, capsys: pytest.CaptureFixture[str]) -> str:
    path = tmp_path / "in.conll"
    path.write_bytes(data)
    assert main(["evaluate", str(NER), str(path)]) == 2
    return capsys.readouterr().err.strip()


@pytest.fixture(scope="module")
def service() -> TestClient:
    with serving(models=[NER]) as client:
        yield client  # type: ignore[misc]


def test_wrong_column_count_reads_the_same_in_evaluate_and_tag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = "in.conll:2: expected 3 columns as on earlier lines, found 2"
    assert _evaluate(tmp_path, BAD_CONLL, capsys).endswith(message)
    done = _tag(tmp_path, BAD_CONLL, "conll")
    assert done.returncode == 2 and done.stderr.strip().endswith(message)


def test_bad_utf8_reads_the_same_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], service: TestClient
) -> None:
    problem = "invalid UTF-8 byte 0xe9 at column 4"
    assert _evaluate(tmp_path, b"ok O O\n" + BAD_UTF8_LINE, capsys).endswith(f"in.conll:2: {problem}")
    done = _tag(tmp_path, b"ok O O\n" + BAD_UTF8_LINE, "conll")
    assert done.stderr.strip().endswith(f"in.conll:2: {problem}")
    done = _tag(tmp_path, b"fine\ncaf\xe9\n", "lines")
    assert done.stderr.strip().endswith(f"in.lines:2: {problem}")
    r = service.post("/tag", content=b"caf\xe9", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["detail"] == f"request body is not UTF-8: {problem}"


def test_lone_surrogate_reads_the_same_in_tag_and_the_service(tmp_path: Path, service: TestClient) -> None:
    problem = "field 'text': lone surrogate \\ud800 at character 1"
    done = _tag(tmp_path, b'{"text": "a\\ud800"}\n', "jsonl")
    assert done.returncode == 2 and done.stderr.strip().endswith(f"in.jsonl:1: {problem}")
    r = service.post("/tag", content=b'{"text": "a\\ud800"}', headers={"content-type": "application/json"})
    assert r.status_code == 422 and problem in r.json()["detail"][0]["msg"]


def test_an_empty_record_is_an_empty_document_in_tag_and_the_service(tmp_path: Path, service: TestClient) -> None:
    done = _tag(tmp_path, b'{"text": ""}\n', "jsonl")
    assert done.returncode == 0 and json.loads(done.stdout) == {"id": None, "sentences": [], "entities": []}
    r = service.post("/tag", json={"text": ""})
    assert r.status_code == 200 and r.json()["documents"] == [{"id": None, "sentences": [], "entities": []}]


def test_an_empty_corpus_is_an_error_for_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _evaluate(tmp_path, b"", capsys).endswith("in.conll:1: no sentences found")


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except OSError:
        return True
    return state == "Z"


def _start_long_tag(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path, list[int]]:
    source = tmp_path / "in.txt"
    source.write_text("".join(f"Document {i}: Angela Merkel met Bob in Paris.\n" for i in range(40_000)))
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "tagger", "tag", str(source), "--input-format", "lines", "--workers", "2"]
    proc = subprocess.Popen([*cmd, "--model", str(NER), "-o", str(out), "--quiet"], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while (not out.exists() or out.stat().st_size == 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = _children(proc.pid)
    assert proc.poll() is None and len(workers) >= 2, "the run ended before it could be stopped"
    return proc, out, workers


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_tag_stops_cleanly_on_sigterm_keeping_whole_documents(tmp_path: Path, signum: int) -> None:
    proc, out, workers = _start_long_tag(tmp_path)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert b"stopped by SIG" in err and b"Traceback" not in err
    lines = out.read_text().splitlines()
    ids = [json.loads(line)["sentences"][0][1]["text"] for line in lines]  # every line a whole record
    assert ids == [str(i) for i in range(len(ids))] and 0 < len(ids) < 40_000
    deadline = time.monotonic() + 10
    while not all(_gone(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(_gone(w) for w in workers)


def test_tag_workers_die_when_the_parent_is_killed(tmp_path: Path) -> None:
    proc, _, workers = _start_long_tag(tmp_path)
    proc.kill()
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while not all(_gone(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(_gone(w) for w in workers), "orphaned tagging workers"


def test_a_line_longer_than_a_document_is_reported_in_tag(tmp_path: Path) -> None:
    done = _tag(tmp_path, b"fine\n" + b"a " * 60_000 + b"\n", "lines")
    assert done.returncode == 2
    assert done.stderr.strip().endswith(
        "in.lines:2: document has 120000 characters; limit 100000 " + ("(split it, or tag it as --input-format text)")
    )


def test_serve_with_a_models_setting_that_is_not_json_is_a_one_line_error() -> None:
    env = {**__import__("os").environ, "TAGGER_MODELS": "notjson"}
    done = subprocess.run(
        [sys.executable, "-m", "tagger", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: invalid setting TAGGER_MODELS: expected a JSON list, e.g. '[\"models/ner-en-conll03\"]'"
    )


CONLLU = """# newdoc id = d1
# sent_id = 1
1\tPeter\tPeter\tPROPN\tNNP\t_\t2\tnsubj\t_\t_
2\tlives\tlive\tVERB\tVBZ\t_\t0\troot\t_\t_
3\t.\t.\tPUNCT\t.\t_\t2\tpunct\t_\t_

"""


def test_train_reads_a_conllu_file_by_its_name(tmp_path: Path) -> None:
    data = tmp_path / "pos.conllu"
    data.write_text(CONLLU * 4, encoding="utf-8")
    common = ["train", "--train", str(data), "--dev", str(data), "--quiet", "--epochs", "1", "--hidden-size", "8"]
    assert main([*common, "--output", str(tmp_path / "m")]) == 0
    saved = json.loads((tmp_path / "m" / "config.json").read_text())
    assert saved["data"]["format"] == "conllu" and saved["task"] == "pos"
    # --format still wins over the name.
    assert main([*common, "--output", str(tmp_path / "m2"), "--format", "conll"]) != 0
    # A config file that says nothing of the format leaves the name its say (regression:
    # any config file turned the name off, and MISC was learnt as the tags: dev 1.0000).
    settings = tmp_path / "small.toml"
    settings.write_text("[model]\nhidden_size = 8\n")
    assert main([*common, "--output", str(tmp_path / "m3"), "--config", str(settings)]) == 0
    saved = json.loads((tmp_path / "m3" / "config.json").read_text())
    assert (
        saved["data"]["format"] == "conllu"
        and "PROPN" in json.loads((tmp_path / "m3" / "vocab.json").read_text())["labels"]
    )


def test_a_conllu_file_read_as_conll_is_refused_not_learnt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "pos.txt"  # a name that says nothing
    data.write_text(_without_comments(CONLLU) * 4, encoding="utf-8")
    args = ["train", "--train", str(data), "--dev", str(data), "--quiet", "--epochs", "1", "--hidden-size", "8"]
    assert main([*args, "--output", str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err.strip().endswith("every tag is '_': is this CoNLL-U (--format conllu)?")
    assert not (tmp_path / "m").exists()


def _without_comments(conllu: str) -> str:
    return "".join(line for line in conllu.splitlines(keepends=True) if not line.startswith("#"))


@pytest.mark.parametrize("destination", ["stdout", "file"])
def test_the_tagger_command_writes_every_record_before_its_quick_exit(tmp_path: Path, destination: str) -> None:
    """``tagger tag`` ends without the interpreter's teardown (cli._end_now): what it
    wrote to a pipe or a file must all be there, and its exit status kept."""
    source = tmp_path / "docs.jsonl"
    source.write_text(
        "".join(json.dumps({"id": i, "text": f"Mr. Smith {i} went to Paris."}) + "\n" for i in range(300))
    )
    output = tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "tagger", "tag", str(source), "--model", str(NER), "--workers", "2", "--quiet"]
    command += ["-o", str(output)] if destination == "file" else []
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    text = done.stdout if destination == "stdout" else output.read_text()
    assert [json.loads(line)["id"] for line in text.splitlines()] == [str(i) for i in range(300)]
    failed = subprocess.run([*command[:4], str(tmp_path / "missing.txt")], capture_output=True, text=True, timeout=120)
    assert (
        failed.returncode == 2
        and failed.stderr == f"error: {tmp_path / 'missing.txt'}: cannot read: No such file or directory\n"
    )


@pytest.mark.parametrize("spelling", ["same", "dotted", "hard link"])
def test_tag_refuses_to_write_its_output_over_its_input(tmp_path: Path, spelling: str) -> None:
    source = tmp_path / "in.txt"
    source.write_text("Angela Merkel visited Paris.\n")
    output = {"same": str(source), "dotted": str(tmp_path / "." / "in.txt"), "hard link": str(tmp_path / "link.txt")}
    if spelling == "hard link":
        (tmp_path / "link.txt").hardlink_to(source)
    cmd = [sys.executable, "-m", "tagger", "tag", str(source), "--model", str(NER), "-o", output[spelling]]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {output[spelling]}: is the input file; write the output elsewhere"
    assert source.read_text() == "Angela Merkel visited Paris.\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
def test_a_full_disk_while_tagging_is_a_one_line_error(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("Angela Merkel visited Paris.\n" * 50)
    cmd = [sys.executable, "-m", "tagger", "tag", str(source), "--model", str(NER), "-o", "/dev/full", "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr == "error: /dev/full: cannot write: No space left on device\n"


@pytest.mark.parametrize(
    ("data", "tag"),
    [
        (b"EU ORG\nrejects O\nGerman MISC\n\n", "ORG"),  # IO tags, no B-/I- prefix
        (b"EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n", "NNP"),  # --tag-column 1: the POS column
    ],
)
def test_evaluate_on_tags_of_another_scheme_says_which_tag_and_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes, tag: str
) -> None:
    path = tmp_path / "in.conll"
    path.write_bytes(data)
    extra = ["--tag-column", "1"] if tag == "NNP" else []
    assert main(["evaluate", str(NER), str(path), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {path}:1: tag {tag!r} ")
    assert "Traceback" not in err


def test_info_of_a_final_fit_gives_the_estimate_and_says_dev_was_trained_on(capsys: pytest.CaptureFixture[str]) -> None:
    metrics = json.loads((NER / "metrics.json").read_text())
    assert main(["info", str(NER)]) == 0
    out = capsys.readouterr().out
    estimate, on_dev = metrics["final_fit"]["selection_dev"], metrics["dev"]["main"]
    assert f"estimated dev score {estimate:.4f} (the selection run's" in out
    assert f"trained on dev, where it scores {on_dev:.4f}" in out
    assert main(["info", str(NER), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["dev_estimate"] == pytest.approx(estimate) and facts["trained_on_dev"] is True


def test_info_reads_a_hand_edited_metrics_file_without_a_traceback(
    model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = model_dir / "metrics.json"
    metrics = json.loads(path.read_text())
    metrics["dev"]["main"] = "high"
    metrics["seeds"] = [{"seed": 1}, "x", {"seed": 2, "dev_main": 0.5}]
    path.write_text(json.dumps(metrics))
    assert main(["info", str(model_dir)]) == 0
    out = capsys.readouterr().out
    assert "dev score" not in out and out.splitlines()[-1] == "seeds: 2=0.5000"


def test_evaluate_reads_a_file_by_its_name_like_train_and_tag(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Regression: a .conllu file was read in the model's own format (CoNLL), and its
    comment lines were reported as token lines with the wrong column count."""
    path = tmp_path / "dev.conllu"
    path.write_text(CONLLU)
    assert main(["evaluate", str(model_dir), str(path)]) == 2
    assert "tag 'PROPN' is not an entity tag" in capsys.readouterr().err
    assert main(["evaluate", str(model_dir), "/dev/null"]) == 2
    assert capsys.readouterr().err.startswith("error: /dev/null: not a regular file")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TAGGER_MODELS": '["/nonexistent/model"]'}, "TAGGER_MODELS: /nonexistent/model: no such model directory"),
        ({"TAGGER_DEVICE": "gpu"}, "TAGGER_DEVICE: String should match pattern"),
    ],
)
def test_serve_refuses_models_and_devices_it_cannot_use_at_start(env: dict[str, str], message: str) -> None:
    """Regression: the server started, said alive and never ready, and exited 0."""
    done = subprocess.run(
        [sys.executable, "-m", "tagger", "serve", "--port", "18799"],
        env={**__import__("os").environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: invalid setting") and message in done.stderr


def test_serve_refuses_a_port_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    """Regression: --port 84306 silently listened on 18770 (84306 - 65536)."""
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--port", "84306"])
    assert exited.value.code == 2
    assert "port must be 1 to 65535, not 84306" in capsys.readouterr().err
