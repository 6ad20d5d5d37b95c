"""What training refuses, and what a failed run leaves on disk: a diverging run never
replaces a good model, a failed start never destroys an interrupted run's resume state,
a final fit never writes over what it was selected from, and every mistake a user can
make is one line naming the file or setting, not a traceback."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest
import torch

from tagger import checkpoint
from tagger import train as train_module
from tagger.cli import main
from tagger.errors import TaggerError
from tagger.finalfit import final_fit_from
from tagger.resume import resume_arguments
from tagger.train import train
from tests.conftest import NER_TRAIN
from tests.test_train import _finished_run, tiny_config


def _quiet(_: str) -> None:
    pass


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir()}


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def _interrupted_run(data: Path, output: Path, epochs: int = 1) -> None:
    """A run stopped (as by SIGTERM) after ``epochs`` epochs: its resume state stays."""
    config = tiny_config()
    config.train.epochs = 6
    seen: list[str] = []
    result = train(
        data,
        data,
        output,
        config,
        log=seen.append,
        progress=False,
        should_stop=lambda: len([m for m in seen if m.startswith("epoch")]) == epochs,
    )
    assert result.interrupted
    assert (output.parent / f".{output.name}.training" / "state.json").is_file()


def _tiny_args(data: Path, output: Path, *extra: str) -> list[str]:
    return [
        "train",
        "--train",
        str(data),
        "--dev",
        str(data),
        "--output",
        str(output),
        "--quiet",
        "--epochs",
        "2",
        "--hidden-size",
        "8",
        "--word-dim",
        "8",
        "--char-hidden",
        "4",
        "--char-dim",
        "4",
        *extra,
    ]


# --- 1. a diverging run ---------------------------------------------------------------------------------------------


def _nan_optimizer(monkeypatch: pytest.MonkeyPatch, from_epoch: int = 1) -> None:
    """An optimizer whose learning rate is nan from ``from_epoch`` on: what ``lr_decay``
    inf did (``lr / (1 + inf * 0)``), and what any diverging run ends in."""
    real_step = torch.optim.lr_scheduler.LambdaLR.step

    def step(self: torch.optim.lr_scheduler.LambdaLR, *args: object) -> None:
        real_step(self, *args)
        if self.last_epoch + 1 >= from_epoch:  # the epoch the next batches belong to
            for group in self.optimizer.param_groups:
                group["lr"] = float("nan")

    monkeypatch.setattr(torch.optim.lr_scheduler.LambdaLR, "step", step)


def test_a_run_that_goes_nan_from_the_start_leaves_the_previous_model_alone(
    ner_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tiny_config()
    config.train.epochs = 2
    train(ner_file, ner_file, tmp_path / "keep1", config, log=_quiet, progress=False)
    before = _files(tmp_path / "keep1")
    _nan_optimizer(monkeypatch)
    with pytest.raises(TaggerError) as info:
        train(ner_file, ner_file, tmp_path / "keep1", config, log=_quiet, progress=False)
    message = str(info.value)
    assert message.startswith("epoch 1: training diverged: ") and "\n" not in message
    assert "learning rate nan" in message and "nothing saved" in message
    assert _files(tmp_path / "keep1") == before  # the good model, byte for byte
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep1", "train.txt"]  # no staging, no .new


def test_a_run_that_goes_nan_later_keeps_its_last_finite_best_epoch(
    ner_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _nan_optimizer(monkeypatch, from_epoch=3)
    config = tiny_config()
    config.train.epochs = 5
    config.train.average_last = 3  # no average over nan epochs either
    with pytest.raises(TaggerError) as info:
        train(ner_file, ner_file, tmp_path / "m", config, log=_quiet, progress=False)
    assert str(info.value).startswith("epoch 3: training diverged: ")
    assert f"{tmp_path / 'm'} holds epoch " in str(info.value)
    loaded = checkpoint.load(tmp_path / "m")
    assert all(torch.isfinite(p).all() for p in loaded.model.parameters())
    assert loaded.metrics["best_epoch"] in (1, 2) and loaded.metrics["diverged"]["epoch"] == 3
    assert loaded.metrics["averaged"] is None
    assert not (tmp_path / ".m.training").exists()  # resuming would only diverge again


def test_a_non_finite_loss_stops_at_its_batch(ner_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tagger.model import SequenceTagger

    real = SequenceTagger.forward
    calls = [0]

    def forward(self: SequenceTagger, *args: object, **kwargs: object) -> torch.Tensor:
        loss = real(self, *args, **kwargs)
        calls[0] += 1
        return loss * float("inf") if self.training and calls[0] == 3 else loss

    monkeypatch.setattr(SequenceTagger, "forward", forward)
    with pytest.raises(TaggerError, match=r"^epoch 2: training diverged: the loss of batch 1 is inf "):
        train(ner_file, ner_file, tmp_path / "m", tiny_config(), log=_quiet, progress=False)


def test_lr_decay_inf_is_refused_before_anything_is_touched(
    ner_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_tiny_args(ner_file, tmp_path / "keep1")) == 0
    before = _files(tmp_path / "keep1")
    capsys.readouterr()
    assert main(_tiny_args(ner_file, tmp_path / "keep1", "--lr-decay", "inf")) == 2
    assert "train.lr_decay" in _one_line_error(capsys)
    assert _files(tmp_path / "keep1") == before


def test_vectors_with_nan_are_refused_before_training(ner_file: Path, tmp_path: Path) -> None:
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("berlin 0.5 0.5\npeter nan 0.5\n", encoding="utf-8")
    with pytest.raises(TaggerError, match=r"vectors.txt:2: vector value 'nan' is not a finite number$"):
        train(ner_file, ner_file, tmp_path / "m", tiny_config(), vectors, log=_quiet, progress=False)
    assert not (tmp_path / "m").exists() and not (tmp_path / ".m.training").exists()


def test_publishing_refuses_weights_that_are_not_finite(tmp_path: Path) -> None:
    model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.weight[0, 0] = math.nan
    with pytest.raises(RuntimeError, match="not finite"):
        train_module._publish(model, tmp_path / ".m.training", tmp_path / "m", {})
    assert not (tmp_path / "m").exists()


# --- 2. a failed fresh run and an interrupted run's resume state ---------------------------------------------------


@pytest.mark.parametrize("mistake", ["train", "dev", "embeddings", "bio"])
def test_a_failed_fresh_run_keeps_the_interrupted_runs_resume_state(
    ner_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], mistake: str
) -> None:
    _interrupted_run(ner_file, tmp_path / "ores")
    state = (tmp_path / ".ores.training" / "state.json").read_bytes()
    args = _tiny_args(ner_file, tmp_path / "ores")
    if mistake in ("train", "dev"):
        args[args.index(f"--{mistake}") + 1] = str(tmp_path / "typo.txt")
    elif mistake == "embeddings":
        args += ["--embeddings", str(tmp_path / "typo.txt")]
    else:
        bad = tmp_path / "bad.txt"
        bad.write_text(NER_TRAIN.replace("B-LOC", "Z-LOC"), encoding="utf-8")
        args[args.index("--train") + 1] = str(bad)
    capsys.readouterr()
    assert main(args) == 2
    _one_line_error(capsys)
    assert (tmp_path / ".ores.training" / "state.json").read_bytes() == state
    assert resume_arguments(tmp_path / "ores")[0] == str(ner_file)
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "ores"), "--quiet"]) == 0


def test_a_failed_run_leaves_no_training_directory_behind(ner_file: Path, tmp_path: Path) -> None:
    with pytest.raises(TaggerError, match=r"typo\.txt"):
        train(tmp_path / "typo.txt", ner_file, tmp_path / "new", tiny_config(), log=_quiet, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.txt"]
    vectors = tmp_path / "words.txt"
    vectors.write_text("berlin\npeter\n", encoding="utf-8")
    with pytest.raises(TaggerError, match=r"words\.txt:1: a word without vector values"):
        train(ner_file, ner_file, tmp_path / "new", tiny_config(), vectors, log=_quiet, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.txt", "words.txt"]


def test_a_run_interrupted_before_its_first_epoch_leaves_no_training_directory(ner_file: Path, tmp_path: Path) -> None:
    result = train(
        ner_file, ner_file, tmp_path / "m", tiny_config(), log=_quiet, progress=False, should_stop=lambda: True
    )
    assert result.interrupted and result.best_epoch == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.txt"]


# --- 3. final fits ---------------------------------------------------------------------------------------------------


@pytest.fixture
def selection(ner_file: Path, tmp_path: Path) -> Path:
    config = tiny_config()
    config.train.epochs = 2
    train(ner_file, ner_file, tmp_path / "out1", config, log=_quiet, progress=False)
    return tmp_path / "out1"


@pytest.mark.parametrize("spelling", ["same", "dotted", "symlink"])
def test_a_final_fit_refuses_to_write_over_its_selection_run(
    ner_file: Path, selection: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], spelling: str
) -> None:
    before = _files(selection)
    output = {"same": selection, "dotted": tmp_path / ".." / tmp_path.name / "out1", "symlink": tmp_path / "link"}[
        spelling
    ]
    if spelling == "symlink":
        output.symlink_to(selection)
    args = ["train", "--train", str(ner_file), "--dev", str(ner_file), "--output", str(output), "--quiet"]
    assert main([*args, "--final-fit", str(selection)]) == 2
    assert "is the selection run of this final fit" in _one_line_error(capsys)
    assert _files(selection) == before
    assert not (tmp_path / ".out1.training").exists()


def test_a_final_fit_refuses_an_interrupted_selection_run(ner_file: Path, tmp_path: Path) -> None:
    _interrupted_run(ner_file, tmp_path / "cut", epochs=2)
    with pytest.raises(TaggerError) as info:
        final_fit_from(tmp_path / "cut")
    assert str(info.value).startswith(f"{tmp_path / 'cut' / 'metrics.json'}: interrupted: true; ")


def test_a_final_fit_refuses_the_same_run_twice(tmp_path: Path) -> None:
    run = _finished_run(tmp_path / "o3", 3, 0.9, 1)
    other = _finished_run(tmp_path / "o4", 3, 0.9, 2)
    for twice in (run, tmp_path / ".." / tmp_path.name / "o3", Path(os.path.relpath(run))):
        with pytest.raises(TaggerError) as info:
            final_fit_from(run, other, twice)
        assert str(info.value) == f"{twice}: given twice to --final-fit (the same run as {run})"


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ({"best_epoch": 3, "dev": {"main": "high"}}, "dev.main must be a number, found 'high'"),
        ({"best_epoch": 3, "dev": {"main": None}}, "dev.main must be a number, found None"),
        ({"best_epoch": 3, "dev": {"main": True}}, "dev.main must be a number, found True"),
        ({"best_epoch": 3, "dev": {"micro": {}}}, "dev has no main score"),
        ({"best_epoch": 0, "dev": {"main": 0.5}}, "best_epoch must be 1 to 100000, found 0"),
        ({"best_epoch": 10**6, "dev": {"main": 0.5}}, "best_epoch must be 1 to 100000, found 1000000"),
        ({"best_epoch": 3, "dev": {"main": 0.5}, "interrupted": "no"}, "interrupted must be true or false, found 'no'"),
    ],
)
def test_a_damaged_selection_run_is_a_one_line_error(tmp_path: Path, metrics: dict[str, object], message: str) -> None:
    run = _finished_run(tmp_path / "sel", 3, 0.9, 1)
    (run / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(TaggerError) as info:
        final_fit_from(run)
    assert str(info.value) == f"{run / 'metrics.json'}: {message}"


def test_a_selection_run_without_a_config_section_is_a_one_line_error(tmp_path: Path) -> None:
    run = _finished_run(tmp_path / "sel", 3, 0.9, 1)
    (run / "config.json").write_text(json.dumps({"model": {}, "train": []}))
    with pytest.raises(TaggerError) as info:
        final_fit_from(run)
    assert str(info.value) == f"{run / 'config.json'}: section 'train' must be a mapping"


# --- 4. tracebacks in tagger train ----------------------------------------------------------------------------------


def test_an_output_below_a_file_is_a_one_line_error(
    ner_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "afile").write_text("x")
    assert main(_tiny_args(ner_file, tmp_path / "afile" / "model")) == 2
    assert _one_line_error(capsys) == (
        f"error: {tmp_path / 'afile' / 'model'}: cannot train into it: {tmp_path / 'afile'} is not a directory"
    )
    assert main(_tiny_args(ner_file, tmp_path / "afile" / "sub" / "model")) == 2
    assert f"{tmp_path / 'afile'} is not a directory" in _one_line_error(capsys)


def test_an_unwritable_output_parent_is_a_one_line_error(
    ner_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_mkdir = Path.mkdir

    def mkdir(self: Path, *args: object, **kwargs: object) -> None:
        if self.name.endswith(".training"):
            raise PermissionError(13, "Permission denied", str(self))
        real_mkdir(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "mkdir", mkdir)
    assert main(_tiny_args(ner_file, tmp_path / "m")) == 2
    assert _one_line_error(capsys) == (
        f"error: {tmp_path / 'm'}: cannot create its training directory .m.training: Permission denied"
    )


def test_an_old_staging_directory_that_cannot_be_removed_is_a_one_line_error(
    ner_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".m.training").mkdir()
    (tmp_path / ".m.training" / "state.json").write_text("{}")

    def refuse(path: object, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(shutil, "rmtree", refuse)
    assert main(_tiny_args(ner_file, tmp_path / "m")) == 2
    assert _one_line_error(capsys) == f"error: {tmp_path / '.m.training'}: cannot remove it: Permission denied"


def test_an_unwritable_parent_is_refused_before_the_corpora_are_read(ner_file: Path, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o555)
    try:
        with pytest.raises(TaggerError, match=r"ro/m: cannot train into it: .*ro is not writable"):
            train(ner_file, ner_file, tmp_path / "ro" / "m", tiny_config(), log=_quiet, progress=False)
    finally:
        (tmp_path / "ro").chmod(0o755)


def test_a_seed_torch_cannot_take_is_a_one_line_error(
    ner_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_tiny_args(ner_file, tmp_path / "s1", "--seed", "99999999999999999999")) == 2
    assert "train.seed: Input should be less than or equal to 4294967295" in _one_line_error(capsys)


def _damage_state(staging: Path, how: str) -> None:
    state = json.loads((staging / "state.json").read_text())
    if how == "empty state":
        (staging / "state.json").write_text("{}")
    elif how == "no data":
        state["data"] = {"train": 3}
        (staging / "state.json").write_text(json.dumps(state))
    elif how == "bad final fit":
        state["final_fit"] = {"selection": "x"}
        (staging / "state.json").write_text(json.dumps(state))
    elif how == "no epoch directory":
        shutil.rmtree(staging / state["epoch_dir"])
    elif how == "no progress":
        del state["best_score"]
        (staging / "state.json").write_text(json.dumps(state))
    elif how == "no vocabulary":
        (staging / "vocab.json").unlink()
    elif how == "damaged vocabulary":
        (staging / "vocab.json").write_text('{"words": []}')
    else:
        raise AssertionError(how)


@pytest.mark.parametrize(
    ("how", "says"),
    [
        ("empty state", "state.json: damaged resume state: no data.train"),
        ("no data", "state.json: damaged resume state: no data.train"),
        ("bad final fit", "state.json: damaged resume state: final_fit has no epochs"),
        ("no epoch directory", "state.json: damaged resume state: names epoch-1, which is missing"),
        ("no progress", "state.json: damaged resume state: no 'best_score'"),
        ("no vocabulary", "vocab.json: missing file"),
        ("damaged vocabulary", "vocab.json: damaged resume state: no 'chars'"),
    ],
)
def test_resuming_a_damaged_state_is_a_one_line_error(
    ner_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str, says: str
) -> None:
    _interrupted_run(ner_file, tmp_path / "r1")
    _damage_state(tmp_path / ".r1.training", how)
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "r1"), "--quiet"]) == 2
    assert says in _one_line_error(capsys)
    assert (tmp_path / ".r1.training").is_dir()  # left for the user to look at


def test_resuming_after_the_train_corpus_gained_a_label_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "train.txt"
    data.write_text(NER_TRAIN, encoding="utf-8")
    _interrupted_run(data, tmp_path / "r2")
    data.write_text(NER_TRAIN + "\nParis NNP B-NP B-CITY\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "r2"), "--quiet"]) == 2
    err = _one_line_error(capsys)
    assert f"error: {data}: has labels the interrupted run's vocabulary lacks (S-CITY); " in err
    assert (tmp_path / ".r2.training" / "state.json").is_file()


def test_a_train_file_without_entities_against_a_dev_file_with_them_is_refused(ner_file: Path, tmp_path: Path) -> None:
    """Regression: train tags all O made a POS model that scored NER dev as token accuracy."""
    all_o = tmp_path / "all_o.txt"
    all_o.write_text("".join(f"{line.split()[0]} O\n" if line.strip() else "\n" for line in ner_file.open()))
    with pytest.raises(TaggerError, match=r"its tags are not entity tags \(or all O\), but .* has entity tags"):
        train(all_o, ner_file, tmp_path / "m", tiny_config(), log=_quiet, progress=False)
    assert not (tmp_path / "m").exists()


def test_dev_entity_types_that_train_lacks_are_warned_of(ner_file: Path, tmp_path: Path) -> None:
    dev = tmp_path / "dev.txt"
    dev.write_text(ner_file.read_text().replace("B-LOC", "B-GPE", 1).replace("I-LOC", "I-GPE", 1))
    messages: list[str] = []
    config = tiny_config()
    config.train.epochs = 1
    train(ner_file, dev, tmp_path / "m", config, log=messages.append, progress=False)
    assert any(m.startswith(f"warning: {dev} has entity types {ner_file} never has (GPE)") for m in messages)
