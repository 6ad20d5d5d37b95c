from __future__ import annotations

import json
import random
import threading
from pathlib import Path

import pytest
import torch

from tagger import checkpoint
from tagger.batch import Batch
from tagger.config import Config
from tagger.corpus import Sentence
from tagger.labeler import Labeler
from tagger.model import make_rnn
from tagger.train import epoch_batches, train, training_examples
from tests.conftest import NER_TRAIN


def tiny_config(**model: object) -> Config:
    config = Config()
    config.model.word_dim = 16
    config.model.hidden_size = 16
    config.model.char_hidden = 8
    config.model.char_dim = 8
    config.model.dropout = 0.0
    config.model.num_layers = 1
    for key, value in model.items():
        setattr(config.model, key, value)
    config.train.epochs = 40
    config.train.patience = 40
    config.train.batch_size = 2
    config.train.lr = 0.02
    config.train.word_dropout = 0.0
    config.train.min_count = 1
    config.train.case_augment = 0.0  # the tiny corpus is scored as it is written
    config.train.average_last = 0
    return config


@pytest.mark.parametrize(
    "options",
    [
        {"cell": "lstm", "head": "crf"},
        {"cell": "lstm", "head": "softmax", "char_encoder": "lstm"},
        {"cell": "gru", "head": "crf", "num_layers": 2},
        {"cell": "rnn", "head": "crf", "rnn_nonlinearity": "tanh"},
        {"cell": "rnn", "head": "softmax", "identity_init": True, "bidirectional": False, "char_encoder": "none"},
    ],
    ids=lambda o: "-".join(str(v) for v in o.values()),
)
def test_tiny_training_fits_training_data(ner_file: Path, tmp_path: Path, options: dict[str, object]) -> None:
    out = tmp_path / "model"
    result = train(ner_file, ner_file, out, tiny_config(**options), log=lambda _: None, progress=False)
    assert result.best_score == pytest.approx(1.0)
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    for name in ("config.json", "vocab.json", "model.safetensors", "metrics.json", "README.md", "training_curves.png"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dev"]["micro"]["f1"] == pytest.approx(1.0)
    assert "Command" in (out / "README.md").read_text()


def test_identity_initialised_relu_rnn() -> None:
    config = tiny_config(cell="rnn", identity_init=True).model
    rnn = make_rnn(config, 5)
    assert rnn.nonlinearity == "relu"
    assert torch.equal(rnn.weight_hh_l0, torch.eye(16))


def test_unknown_cell_is_a_value_error() -> None:
    config = tiny_config().model
    with pytest.raises(ValueError, match="Input should be 'lstm', 'gru' or 'rnn'"):
        config.cell = "transformer"  # type: ignore[assignment]
    object.__setattr__(config, "cell", "transformer")  # past the config's own check
    with pytest.raises(ValueError, match="unknown cell 'transformer'"):
        make_rnn(config, 5)


def test_seed_makes_cpu_runs_repeatable(ner_file: Path, tmp_path: Path) -> None:
    config = tiny_config()
    config.train.epochs = 3
    config.model.dropout = 0.3
    config.train.word_dropout = 0.1
    a = train(ner_file, ner_file, tmp_path / "a", config, log=lambda _: None, progress=False)
    b = train(ner_file, ner_file, tmp_path / "b", config, log=lambda _: None, progress=False)
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]


def test_save_load_round_trip_gives_identical_predictions(ner_file: Path, tmp_path: Path) -> None:
    config = tiny_config()
    config.train.epochs = 5
    train(ner_file, ner_file, tmp_path / "m", config, log=lambda _: None, progress=False)
    sentences = [["Peter", "visited", "Berlin", "."], ["Unknownword", "Acme", "Corp"]]
    first = Labeler.load([tmp_path / "m"], device="cpu").label(sentences)
    second = Labeler.load([tmp_path / "m"], device="cpu").label(sentences)
    assert first == second
    loaded = checkpoint.load(tmp_path / "m")
    checkpoint.save_weights(loaded.model, tmp_path / "m")
    third = Labeler.load([tmp_path / "m"], device="cpu").label(sentences)
    assert [[t.label for t in s] for s in third["m"]] == [[t.label for t in s] for s in first["m"]]


def test_a_stop_request_keeps_the_best_model(ner_file: Path, tmp_path: Path) -> None:
    config = tiny_config()
    config.train.epochs = 1000
    calls = []

    def log(message: str) -> None:
        calls.append(message)

    def should_stop() -> bool:  # what the CLI's SIGTERM handler answers
        return len([c for c in calls if c.startswith("epoch")]) == 3

    result = train(ner_file, ner_file, tmp_path / "m", config, log=log, progress=False, should_stop=should_stop)
    assert result.interrupted
    assert len(result.history) == 3
    loaded = checkpoint.load(tmp_path / "m")
    assert loaded.metrics["interrupted"] is True


def test_train_leaves_the_callers_config_alone(ner_file: Path, tmp_path: Path) -> None:
    config = tiny_config()
    config.train.epochs = 1
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("berlin " + " ".join(["0.5"] * 6) + "\n", encoding="utf-8")
    before = config.to_dict()
    train(ner_file, ner_file, tmp_path / "m", config, vectors, log=lambda _: None, progress=False)
    assert config.to_dict() == before  # word_dim stays 16 here
    assert checkpoint.load(tmp_path / "m").config.model.word_dim == 6


def test_train_runs_outside_the_main_thread(ner_file: Path, tmp_path: Path) -> None:
    config = tiny_config()
    config.train.epochs = 1
    results = []
    worker = threading.Thread(
        target=lambda: results.append(
            train(ner_file, ner_file, tmp_path / "m", config, log=lambda _: None, progress=False)
        )
    )
    worker.start()
    worker.join(timeout=120)
    assert results and results[0].best_epoch == 1


def test_a_malformed_tag_in_a_bio_corpus_is_an_error_with_its_line(tmp_path: Path) -> None:
    from tagger.errors import CorpusError

    path = tmp_path / "train.txt"
    path.write_text(NER_TRAIN.replace("Berlin NNP B-NP B-LOC", "Berlin NNP B-NP Z-LOC"), encoding="utf-8")
    with pytest.raises(CorpusError, match=r"train.txt:13: 'Z-LOC' is not a BIO tag"):
        train(path, path, tmp_path / "m", tiny_config(), log=lambda _: None, progress=False)
    path.write_text(NER_TRAIN.replace("B-MISC", "B-"), encoding="utf-8")
    with pytest.raises(CorpusError, match=r"train.txt:5: 'B-' is not a BIO tag"):
        train(path, path, tmp_path / "m", tiny_config(), log=lambda _: None, progress=False)


def test_resume_continues_exactly_where_the_run_stopped(ner_file: Path, tmp_path: Path) -> None:
    config = tiny_config()
    config.train.epochs = 6
    config.train.patience = 6
    whole = train(ner_file, ner_file, tmp_path / "whole", config, log=lambda _: None, progress=False)
    calls: list[str] = []

    def stop_after_three() -> bool:
        return len([c for c in calls if c.startswith("epoch")]) == 3

    first = train(
        ner_file, ner_file, tmp_path / "m", config, log=calls.append, progress=False, should_stop=stop_after_three
    )
    assert first.interrupted and len(first.history) == 3
    from tagger.resume import resume_arguments

    train_path, dev_path, saved, embeddings, fit = resume_arguments(tmp_path / "m")
    assert fit is None
    rest = train(
        train_path, dev_path, tmp_path / "m", saved, embeddings, log=lambda _: None, progress=False, resume=True
    )
    assert [h["epoch"] for h in rest.history] == list(range(1, 7))
    assert [h["loss"] for h in rest.history] == pytest.approx([h["loss"] for h in whole.history], rel=1e-6)
    assert not (tmp_path / ".m.training").exists()  # a finished run leaves nothing to resume


def test_a_resumed_run_averages_the_same_epochs_as_an_uninterrupted_one(ner_file: Path, tmp_path: Path) -> None:
    """The weights of the epochs before the stop are part of the last epochs' average:
    a run stopped at epoch 5 of 6 must still average epochs 4-6 into the same model."""
    config = tiny_config()
    config.train.epochs = 6
    config.train.patience = 6
    config.train.average_last = 3
    train(ner_file, ner_file, tmp_path / "whole", config, log=lambda _: None, progress=False)
    calls: list[str] = []
    train(
        ner_file,
        ner_file,
        tmp_path / "m",
        config,
        log=calls.append,
        progress=False,
        should_stop=lambda: len([c for c in calls if c.startswith("epoch")]) == 5,
    )
    from tagger.resume import resume_arguments

    train_path, dev_path, saved, embeddings, _ = resume_arguments(tmp_path / "m")
    train(train_path, dev_path, tmp_path / "m", saved, embeddings, log=lambda _: None, progress=False, resume=True)
    whole, resumed = checkpoint.load(tmp_path / "whole"), checkpoint.load(tmp_path / "m")
    assert resumed.metrics["averaged"]["epochs"] == whole.metrics["averaged"]["epochs"] == [4, 5, 6]
    for name, tensor in whole.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], tensor, rtol=1e-5, atol=1e-6)


def test_a_killed_retrain_leaves_the_previous_model_loadable(ner_file: Path, tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    config = tiny_config()
    config.train.epochs = 2
    train(ner_file, ner_file, tmp_path / "m", config, log=lambda _: None, progress=False)
    before = {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir() if p.name != "README.md"}
    big = tmp_path / "big.txt"
    big.write_text(ner_file.read_text() * 300, encoding="utf-8")
    cmd = [
        sys.executable,
        "-m",
        "tagger",
        "train",
        "--train",
        str(big),
        "--dev",
        str(big),
        "--output",
        str(tmp_path / "m"),
    ]
    proc = subprocess.Popen(
        [*cmd, "--hidden-size", "64", "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / ".m.training" / "config.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.kill()  # before its first epoch ends
    proc.wait(timeout=10)
    after = {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir() if p.name != "README.md"}
    assert after == before
    checkpoint.load(tmp_path / "m")


def test_recase_lowers_or_uppers_the_given_share_of_sentences() -> None:
    import random

    from tagger.train import recase

    rng = random.Random(0)
    sentence = ["Angela", "Merkel", "visited", "Paris"]
    seen = [tuple(recase(sentence, rng, 0.4)) for _ in range(2000)]
    lower, upper = tuple(t.lower() for t in sentence), tuple(t.upper() for t in sentence)
    assert 0.17 < seen.count(lower) / 2000 < 0.23 and 0.17 < seen.count(upper) / 2000 < 0.23
    assert seen.count(tuple(sentence)) + seen.count(lower) + seen.count(upper) == 2000
    assert all(recase(sentence, rng, 0.0) == sentence for _ in range(100))


def test_case_augmentation_is_saved_and_trains(ner_file: Path, tmp_path: Path) -> None:
    config = tiny_config()
    config.train.epochs = 3
    config.train.case_augment = 0.5
    result = train(ner_file, ner_file, tmp_path / "m", config, log=lambda _: None, progress=False)
    assert result.best_epoch >= 1
    assert checkpoint.load(tmp_path / "m").config.train.case_augment == 0.5


def test_a_sentence_casing_model_trains_saves_and_loads_with_its_extra_casing_row(
    ner_file: Path, tmp_path: Path
) -> None:
    from tagger.vocab import UNCASED

    config = tiny_config(sentence_casing=True)
    config.train.epochs = 2
    config.train.case_augment = 0.5
    train(ner_file, ner_file, tmp_path / "m", config, log=lambda _: None, progress=False)
    loaded = checkpoint.load(tmp_path / "m")
    assert loaded.config.model.sentence_casing is True
    assert loaded.model.case_embed is not None and loaded.model.case_embed.num_embeddings == UNCASED + 1


def test_sentence_casing_with_document_context_is_refused(ner_file: Path, tmp_path: Path) -> None:
    from tagger.errors import TaggerError

    config = tiny_config(sentence_casing=True, context_sentences=1)
    with pytest.raises(TaggerError, match="cannot be combined with context_sentences=1"):
        train(ner_file, ner_file, tmp_path / "m", config, log=lambda _: None, progress=False)
    assert not (tmp_path / "m").exists()


def test_document_consistency_with_a_softmax_head_is_refused(ner_file: Path, tmp_path: Path) -> None:
    from tagger.errors import TaggerError

    config = tiny_config(head="softmax", document_consistency=0.25)
    with pytest.raises(TaggerError, match=r"document_consistency=0\.25 needs head crf, not softmax"):
        train(ner_file, ner_file, tmp_path / "m", config, log=lambda _: None, progress=False)
    assert not (tmp_path / "m").exists()


def test_a_model_trained_with_document_consistency_keeps_it(ner_file: Path, tmp_path: Path) -> None:
    config = tiny_config(document_consistency=0.25)
    config.train.epochs = 2
    train(ner_file, ner_file, tmp_path / "m", config, log=lambda _: None, progress=False)
    assert checkpoint.load(tmp_path / "m").config.model.document_consistency == 0.25


def test_weight_averaging_is_scored_and_recorded(ner_file: Path, tmp_path: Path) -> None:
    config = tiny_config()
    config.train.epochs = 5
    config.train.patience = 5
    config.train.average_last = 3
    train(ner_file, ner_file, tmp_path / "m", config, log=lambda _: None, progress=False)
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert metrics["averaged"]["epochs"] == [3, 4, 5] and isinstance(metrics["averaged"]["kept"], bool)
    assert "Weights averaged over epochs [3, 4, 5]" in (tmp_path / "m" / "README.md").read_text()
    checkpoint.load(tmp_path / "m")


def test_final_fit_trains_on_train_and_dev_for_the_selected_epochs(ner_file: Path, tmp_path: Path) -> None:
    from tagger.cli import main

    config = tiny_config()
    config.train.epochs = 4
    config.train.patience = 4
    selection = train(ner_file, ner_file, tmp_path / "sel", config, log=lambda _: None, progress=False)
    dev = tmp_path / "dev.txt"
    dev.write_text(NER_TRAIN.replace("Berlin", "Paris"), encoding="utf-8")
    args = ["train", "--train", str(ner_file), "--dev", str(dev), "--output", str(tmp_path / "fit"), "--quiet"]
    assert main([*args, "--final-fit", str(tmp_path / "sel")]) == 0
    metrics = json.loads((tmp_path / "fit" / "metrics.json").read_text())
    assert metrics["trained_on_dev"] is True and metrics["epochs_run"] == selection.best_epoch
    assert metrics["final_fit"]["selection_dev"] == pytest.approx(selection.best_score, abs=1e-9)
    assert "paris" in checkpoint.load(tmp_path / "fit").vocab.word_index  # dev words were trained on
    card = (tmp_path / "fit" / "README.md").read_text()
    assert "## Final fit: dev was trained on" in card and f"**{selection.best_score:.4f}**" in card
    assert main([*args, "--final-fit", str(tmp_path / "fit")]) == 2  # a final fit is no selection run


def _finished_run(directory: Path, best_epoch: int, dev: float, seed: int, **model: object) -> Path:
    config = Config()
    config.train.seed = seed
    for key, value in model.items():
        setattr(config.model, key, value)
    directory.mkdir()
    checkpoint.write_json(directory / "config.json", config.to_dict())
    checkpoint.write_json(directory / "metrics.json", {"best_epoch": best_epoch, "dev": {"main": dev}})
    return directory


def test_a_final_fit_from_several_seeds_takes_their_median_epoch_and_mean_dev(tmp_path: Path) -> None:
    from tagger.finalfit import final_fit_from

    runs = [_finished_run(tmp_path / f"s{i}", e, d, i) for i, (e, d) in enumerate([(12, 0.96), (16, 0.97), (15, 0.95)])]
    fit, config = final_fit_from(*runs)
    assert (fit.epochs, fit.best_epochs, fit.runs) == (15, (12, 16, 15), tuple(str(r) for r in runs))
    assert fit.selection_dev == pytest.approx(0.96) and fit.selection == str(runs[0])
    assert config.train.seed == 0  # the first run's configuration
    two, _ = final_fit_from(runs[0], runs[1])
    assert two.epochs == 12  # an epoch one of them was best at, not 14
    one, _ = final_fit_from(runs[1])
    assert (one.epochs, one.runs, one.selection_dev) == (16, (), 0.97)


def test_a_final_fit_refuses_runs_of_different_recipes(tmp_path: Path) -> None:
    from tagger.errors import TaggerError
    from tagger.finalfit import final_fit_from

    a = _finished_run(tmp_path / "a", 12, 0.96, 1)
    b = _finished_run(tmp_path / "b", 14, 0.96, 2, hidden_size=64, num_layers=1)
    with pytest.raises(TaggerError, match=r"b: not a seed of the recipe of .*a: .*differs in model.hidden_size, "):
        final_fit_from(a, b)
    c = _finished_run(tmp_path / "c", 14, 0.96, 3)
    raw = json.loads((c / "config.json").read_text())
    raw["train"]["threads"] = 8  # run elsewhere: the same recipe
    (c / "config.json").write_text(json.dumps(raw))
    assert final_fit_from(a, c)[0].best_epochs == (12, 14)
    # A run saved before a setting existed has its default: the same recipe.
    del raw["train"]["teachers"], raw["train"]["distil_weight"]
    (c / "config.json").write_text(json.dumps(raw))
    assert final_fit_from(a, c)[0].best_epochs == (12, 14)


def test_final_fit_from_several_runs_through_the_command(ner_file: Path, tmp_path: Path) -> None:
    from tagger.cli import main
    from tagger.resume import resume_arguments

    config = tiny_config()
    config.train.epochs = 4
    config.train.patience = 4
    best = []
    for seed in (1, 2, 3):
        config.train.seed = seed
        best.append(train(ner_file, ner_file, tmp_path / f"s{seed}", config, log=lambda _: None, progress=False))
    expected = sorted(r.best_epoch for r in best)[1]
    args = ["train", "--train", str(ner_file), "--dev", str(ner_file), "--output", str(tmp_path / "fit"), "--quiet"]
    assert main([*args, "--final-fit", *(str(tmp_path / f"s{seed}") for seed in (1, 2, 3))]) == 0
    metrics = json.loads((tmp_path / "fit" / "metrics.json").read_text())
    assert metrics["epochs_run"] == expected and metrics["final_fit"]["best_epochs"] == [r.best_epoch for r in best]
    card = (tmp_path / "fit" / "README.md").read_text()
    assert f"for {expected} epochs, the median best epoch of the selection runs `{tmp_path / 's1'}`" in card
    assert "mean dev score of the 3 selection runs" in card
    # An interrupted final fit of several runs resumes as one.
    staging = tmp_path / ".fit.training"
    staging.mkdir()
    checkpoint.write_json(staging / "config.json", json.loads((tmp_path / "fit" / "config.json").read_text()))
    (staging / "vocab.json").write_text((tmp_path / "fit" / "vocab.json").read_text())
    checkpoint.write_json(staging / "state.json", {"data": metrics["data"], "final_fit": metrics["final_fit"]})
    resumed = resume_arguments(tmp_path / "fit")[4]
    assert resumed is not None and resumed.epochs == expected
    assert resumed.runs == tuple(str(tmp_path / f"s{seed}") for seed in (1, 2, 3))
    assert resumed.best_epochs == tuple(r.best_epoch for r in best)


def test_split_holdout_keeps_whole_documents_apart() -> None:
    from tagger.train import split_holdout

    sentences = [Sentence([f"w{i}"], ["O"], document=i // 3) for i in range(30)]  # 10 documents
    kept, held = split_holdout(sentences, 0.2)
    assert {s.document for s in held} == {8, 9} and {s.document for s in kept} == set(range(8))
    assert split_holdout(sentences, 0.0) == (sentences, [])


def test_the_holdout_score_is_reported_beside_dev(tmp_path: Path) -> None:

    data = tmp_path / "train.txt"
    data.write_text((NER_TRAIN + "\n") * 10, encoding="utf-8")  # ten -DOCSTART- documents
    config = tiny_config()
    config.train.epochs = 2
    config.train.holdout_share = 0.2
    train(data, data, tmp_path / "m", config, log=lambda _: None, progress=False)
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert metrics["holdout"]["sentences"] == 6 and 0.0 <= metrics["holdout"]["main"] <= 1.0
    assert (
        "Held-out slice of train (the last 20% of its documents, 6 sentences"
        in (tmp_path / "m" / "README.md").read_text()
    )


def test_training_refuses_an_output_that_is_not_a_model_directory(ner_file: Path, tmp_path: Path) -> None:
    from tagger.errors import TaggerError

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    with pytest.raises(TaggerError, match="exists and is not a model directory"):
        train(ner_file, ner_file, tmp_path / "notes", tiny_config(), log=lambda _: None, progress=False)
    assert (tmp_path / "notes" / "todo.txt").read_text() == "keep me"


def test_resume_takes_no_other_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tagger.cli import main

    assert main(["train", "--resume", str(tmp_path / "m"), "--epochs", "3"]) == 2
    assert "--resume continues the run as it was started; drop --epochs" in capsys.readouterr().err


def test_a_document_context_model_trains_on_chunks_and_saves_its_context(ner_file: Path, tmp_path: Path) -> None:
    data = tmp_path / "docs.txt"
    data.write_text((NER_TRAIN + "\n") * 3, encoding="utf-8")  # three -DOCSTART- documents
    config = tiny_config(context_sentences=1)
    result = train(data, data, tmp_path / "m", config, log=lambda _: None, progress=False)
    assert result.best_score == pytest.approx(1.0)
    assert checkpoint.load(tmp_path / "m").config.model.context_sentences == 1


def test_training_examples_with_context_are_chunks_of_one_document() -> None:
    sentences = [Sentence([f"w{i}"], [f"t{i}"], document=i // 4) for i in range(8)]
    tokens, tags = training_examples(sentences, [s.tags for s in sentences], 1, random.Random(0))
    assert [t for chunk in tokens for t in chunk] == [f"w{i}" for i in range(8)]
    assert [[t.replace("t", "w") for t in chunk] for chunk in tags] == tokens
    assert all(len(chunk) <= 3 for chunk in tokens)
    assert not any({"w3", "w4"} <= set(chunk) for chunk in tokens)  # never across documents


def test_context_chunks_make_as_many_batches_per_epoch_as_sentences_do() -> None:
    sentences = [Sentence([f"w{i}"] * (1 + i % 7), ["O"] * (1 + i % 7), document=i // 20) for i in range(600)]
    tags = [s.tags for s in sentences]
    alone = epoch_batches(sentences, tags, 0, 16, random.Random(0))[2]
    chunked_examples, _, chunked = epoch_batches(sentences, tags, 2, 16, random.Random(0))
    assert len(alone) == 600 // 16 + 1
    assert len(chunked_examples) < 300 and abs(len(chunked) - len(alone)) <= 3


def test_vector_dropout_trains_from_a_vectors_file_and_saves_only_the_fine_tuned_table(
    ner_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safetensors import safe_open

    from tagger.model import SequenceTagger

    marked: list[float] = []  # share of real tokens marked, per training batch
    features = SequenceTagger.features

    def spy(self: SequenceTagger, batch: Batch, char_vectors: torch.Tensor | None = None) -> torch.Tensor:
        if self.training:
            marked.append(
                0.0 if batch.original_words is None else batch.original_words.sum().item() / batch.mask.sum().item()
            )
        return features(self, batch, char_vectors)

    monkeypatch.setattr(SequenceTagger, "features", spy)

    vectors = tmp_path / "vectors.txt"
    vectors.write_text("".join(f"{w} " + " ".join(["0.5"] * 16) + "\n" for w in ("peter", "berlin", "john")))
    saved_keys = []
    for name, share in (("plain", 0.0), ("swapped", 0.5)):
        config = tiny_config()
        config.train.epochs = 3
        config.train.vector_dropout = share
        result = train(ner_file, ner_file, tmp_path / name, config, vectors, log=lambda _: None, progress=False)
        assert result.best_epoch >= 1
        assert checkpoint.load(tmp_path / name).config.train.vector_dropout == share
        with safe_open(str(tmp_path / name / "model.safetensors"), "pt") as fh:
            saved_keys.append(sorted(fh.keys()))
        assert (max(marked) == 0.0) if share == 0 else (0.2 < sum(marked) / len(marked) < 0.8)
        marked.clear()
    assert saved_keys[0] == saved_keys[1]  # the pretrained copy is never saved
