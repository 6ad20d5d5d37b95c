"""Distillation: teachers' label probabilities as training targets (tagger.distil)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tagger import checkpoint
from tagger.batch import encode
from tagger.crf_decode import decode_flat
from tagger.distil import attach, load_teachers, teacher_probabilities
from tagger.errors import TaggerError
from tagger.tags import TagScheme
from tagger.torch_runner import TorchRunner
from tagger.train import train
from tests.test_train import tiny_config

SENTENCES = [["Peter", "lives", "in", "Berlin", "."], ["EU"], ["John", "visited", "New", "York"]]


@pytest.fixture
def teachers(ner_file: Path, tmp_path: Path) -> list[Path]:
    config = tiny_config()
    config.train.epochs = 3
    paths = []
    for seed in (1, 2):
        config.train.seed = seed
        train(ner_file, ner_file, tmp_path / f"t{seed}", config, log=lambda _: None, progress=False)
        paths.append(tmp_path / f"t{seed}")
    return paths


def test_one_teacher_gives_its_own_crf_marginals(teachers: list[Path]) -> None:
    loaded = checkpoint.load(teachers[0])
    labels = list(reversed(loaded.vocab.labels))  # another order than the teacher's
    probs = teacher_probabilities(load_teachers(teachers[:1], labels, TagScheme.BIOES), SENTENCES, labels)
    runner = TorchRunner(loaded, torch.device("cpu"), 0)
    lengths = np.array([len(s) for s in SENTENCES])
    _, want = decode_flat(runner.scores(SENTENCES), lengths, runner.crf_scores)
    columns = [loaded.vocab.label_index[label] for label in labels]
    assert [p.shape for p in probs] == [(n, len(labels)) for n in lengths]
    np.testing.assert_allclose(np.concatenate(probs), want[:, columns], atol=1e-6)


def test_two_teachers_combine_as_one_crf_of_their_averaged_scores(teachers: list[Path]) -> None:
    labels = checkpoint.load(teachers[0]).vocab.labels
    both = np.concatenate(teacher_probabilities(load_teachers(teachers, labels, TagScheme.BIOES), SENTENCES, labels))
    runners = [TorchRunner(checkpoint.load(t), torch.device("cpu"), 0) for t in teachers]
    crfs = [r.crf_scores for r in runners]
    assert crfs[0] is not None and crfs[1] is not None
    mean_crf = tuple((a + b) / 2 for a, b in zip(crfs[0], crfs[1], strict=True))
    scores = (runners[0].scores(SENTENCES) + runners[1].scores(SENTENCES)) / 2  # same label order: same data
    _, want = decode_flat(scores, np.array([len(s) for s in SENTENCES]), mean_crf)  # type: ignore[arg-type]
    np.testing.assert_allclose(both, want, atol=1e-6)
    np.testing.assert_allclose(both.sum(1), 1.0, atol=1e-5)


def test_teachers_with_other_labels_or_scheme_are_refused(teachers: list[Path]) -> None:
    labels = checkpoint.load(teachers[0]).vocab.labels
    with pytest.raises(TaggerError, match=r"labels differ from the training data's: lacks B-XYZ"):
        load_teachers(teachers, [*labels, "B-XYZ"], TagScheme.BIOES)
    with pytest.raises(TaggerError, match=r"labels in bioes, the model in training learns iob2"):
        load_teachers(teachers, labels, TagScheme.IOB2)
    with pytest.raises(TaggerError, match=r"teacher .*nowhere \(--teachers\): "):
        load_teachers([teachers[0], teachers[0].parent / "nowhere"], labels, TagScheme.BIOES)


def test_teachers_that_read_context_or_mix_heads_are_refused(ner_file: Path, tmp_path: Path) -> None:
    config = tiny_config(context_sentences=1)
    config.train.epochs = 1
    train(ner_file, ner_file, tmp_path / "ctx", config, log=lambda _: None, progress=False)
    labels = checkpoint.load(tmp_path / "ctx").vocab.labels
    with pytest.raises(TaggerError, match=r"ctx: reads 1 neighbouring sentences on each side"):
        load_teachers([tmp_path / "ctx"], labels, TagScheme.BIOES)
    for name, head in (("crf", "crf"), ("soft", "softmax")):
        config = tiny_config(head=head)
        config.train.epochs = 1
        train(ner_file, ner_file, tmp_path / name, config, log=lambda _: None, progress=False)
    with pytest.raises(TaggerError, match=r"mix CRF and softmax heads: .*crf \(crf\), .*soft \(softmax\)"):
        load_teachers([tmp_path / "crf", tmp_path / "soft"], labels, TagScheme.BIOES)


def test_attach_pads_each_sentences_targets_with_zeros() -> None:
    from tagger.vocab import build_vocab

    vocab = build_vocab(["a", "b"], ["O", "S-PER"], min_count=1)
    batch = encode([["a", "b", "a"], ["b"]], vocab, 8)
    attach(batch, [np.full((3, 2), 0.5, dtype=np.float32), np.array([[0.25, 0.75]], dtype=np.float32)])
    assert batch.soft_labels is not None
    assert batch.soft_labels.shape == (2, 3, 2)
    assert batch.soft_labels[1].tolist() == [[0.25, 0.75], [0.0, 0.0], [0.0, 0.0]]


def test_a_student_trains_towards_its_teachers_and_records_them(
    ner_file: Path, tmp_path: Path, teachers: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tiny_config()
    config.train.epochs = 3
    monkeypatch.chdir(tmp_path)
    config.train.teachers = [t.name for t in teachers]  # relative to where training starts
    config.train.distil_weight = 2.0
    logged: list[str] = []
    train(ner_file, ner_file, tmp_path / "student", config, log=logged.append, progress=False)
    assert any(line.startswith("teachers: ") and "label probabilities of 3 sentences" in line for line in logged)
    saved = json.loads((tmp_path / "student" / "config.json").read_text())["train"]
    # Saved absolute, so that a resume or final fit run from elsewhere finds them.
    assert all(Path(t).is_absolute() for t in saved["teachers"])
    assert [Path(t).resolve() for t in saved["teachers"]] == [t.resolve() for t in teachers]
    assert saved["distil_weight"] == 2.0
    assert "distilled (`tagger.distil`, weight 2.0)" in (tmp_path / "student" / "README.md").read_text()
    # The distillation term is in the loss: the same run without it has a smaller one.
    config.train.teachers = []
    train(ner_file, ner_file, tmp_path / "plain", config, log=lambda _: None, progress=False)
    histories = [json.loads((tmp_path / d / "metrics.json").read_text())["history"] for d in ("student", "plain")]
    losses = [history[0]["loss"] for history in histories]
    assert losses[0] > losses[1] > 0
    with pytest.raises(TaggerError, match="teachers given with distil_weight 0"):
        config.train.teachers, config.train.distil_weight = [str(t) for t in teachers], 0.0
        train(ner_file, ner_file, tmp_path / "zero", config, log=lambda _: None, progress=False)


@pytest.mark.parametrize("head", ["crf", "softmax"])
def test_the_distillation_term_is_the_cross_entropy_on_the_likelihoods_scale(head: str) -> None:
    """With the gold labels as targets, the term is what the likelihood of each token's
    gold label costs: for a softmax head exactly the gold loss (both per token); for a
    CRF the per-sentence sum of -log P(gold label at t), averaged over sentences."""
    from tagger.vocab import build_vocab

    torch.manual_seed(0)
    config = tiny_config(head=head)
    vocab = build_vocab(["a", "b", "c"], ["O", "S-PER", "B-LOC", "E-LOC"], min_count=1)
    model = checkpoint.build_model(config, vocab, TagScheme.BIOES)
    model.eval()  # no dropout: the same scores in every call
    tags = [["S-PER", "O", "B-LOC", "E-LOC"], ["O"]]
    batch = encode([["a", "b", "c", "a"], ["c"]], vocab, 8, tags)
    gold = batch.labels
    assert gold is not None
    one_hot = torch.nn.functional.one_hot(gold, len(vocab.labels)).float() * batch.mask.unsqueeze(2)
    batch.soft_labels = one_hot
    plain, distilled = model.loss(batch, 0.0), model.loss(batch, 1.0)
    if head == "softmax":
        assert distilled.item() == pytest.approx(2 * plain.item(), rel=1e-5)
    else:
        assert model.crf is not None
        scores = model.emissions(batch)
        log_probs, _ = model.crf.log_marginals(scores, batch.mask)
        picked = log_probs.gather(2, gold.unsqueeze(2)).squeeze(2)[batch.mask]
        assert (distilled - plain).item() == pytest.approx(-picked.sum().item() / 2, rel=1e-5)


def test_a_missing_teacher_is_refused_before_the_data_is_read(tmp_path: Path) -> None:
    config = tiny_config()
    config.train.teachers = [str(tmp_path / "nowhere")]
    missing_data = tmp_path / "not-written-yet.txt"  # reading it would fail with another error
    with pytest.raises(TaggerError, match=r"^teacher .*nowhere \(--teachers\): not a model directory"):
        train(missing_data, missing_data, tmp_path / "m", config, log=lambda _: None, progress=False)


def test_teachers_with_document_context_are_refused(ner_file: Path, tmp_path: Path) -> None:
    config = tiny_config(context_sentences=1)
    config.train.teachers = ["somewhere"]
    with pytest.raises(TaggerError, match="teachers work on models that read sentences alone"):
        train(ner_file, ner_file, tmp_path / "m", config, log=lambda _: None, progress=False)


def test_the_command_takes_several_teachers(ner_file: Path, tmp_path: Path, teachers: list[Path]) -> None:
    from tagger.cli import main

    args = ["train", "--train", str(ner_file), "--dev", str(ner_file), "--output", str(tmp_path / "s"), "--quiet"]
    args += ["--epochs", "1", "--hidden-size", "16", "--teachers", *map(str, teachers), "--distil-weight", "0.5"]
    assert main(args) == 0
    saved = json.loads((tmp_path / "s" / "config.json").read_text())["train"]
    assert saved["teachers"] == [str(t) for t in teachers] and saved["distil_weight"] == 0.5


def test_an_ensemble_of_one_decodes_as_the_labeler_does(teachers: list[Path]) -> None:
    from tagger.distil import Ensemble
    from tagger.labeler import Labeler
    from tagger.tags import convert

    loaded = checkpoint.load(teachers[0])
    labels = loaded.vocab.labels
    paths, probs = Ensemble([loaded], labels).decode(SENTENCES)
    got, start = [], 0
    for sentence in SENTENCES:
        tags = [labels[p] for p in paths[start : start + len(sentence)]]
        got.append(convert(tags, TagScheme.BIOES, TagScheme.IOB2))
        start += len(sentence)
    want = Labeler([loaded], torch.device("cpu")).label(SENTENCES)[loaded.name]
    assert got == [[t.label for t in s] for s in want]
    assert probs.shape == (sum(map(len, SENTENCES)), len(labels))
