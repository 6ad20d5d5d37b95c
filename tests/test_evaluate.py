from __future__ import annotations

from pathlib import Path

import pytest

from tagger.corpus import Sentence
from tagger.evaluate import evaluate, score, token_accuracy
from tagger.labeler import Labeler

MODELS = Path(__file__).resolve().parent.parent / "models"

# Gold: PER(0-2), LOC(3) | ORG(0). Predicted: PER(0-2), ORG(3) | ORG(0), MISC(2).
GOLD = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "O"]]
PRED = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O", "B-MISC"]]


def test_token_accuracy() -> None:
    assert token_accuracy(GOLD, PRED) == pytest.approx(5 / 7)
    assert token_accuracy([["A", "B"], ["C"]], [["A", "B"], ["C"]]) == 1.0
    assert token_accuracy([], []) == 0.0


def test_token_accuracy_length_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError):
        token_accuracy([["A", "B"]], [["A"]])


def test_score_micro_by_hand() -> None:
    result = score(GOLD, PRED, spans=True)
    # 2 of 4 predicted entities are right, 2 of 3 gold entities are found.
    micro = result["micro"]
    assert micro["precision"] == pytest.approx(1 / 2)
    assert micro["recall"] == pytest.approx(2 / 3)
    assert micro["f1"] == pytest.approx(4 / 7)
    assert micro["support"] == 3
    assert result["main"] == micro["f1"]
    assert result["accuracy"] == pytest.approx(5 / 7)


def test_score_per_type_by_hand() -> None:
    per_type = score(GOLD, PRED, spans=True)["per_type"]
    assert list(per_type) == ["LOC", "MISC", "ORG", "PER"]  # sorted
    assert per_type["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert per_type["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert per_type["MISC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    org = per_type["ORG"]
    assert (org["precision"], org["recall"], org["support"]) == (0.5, 1.0, 1)
    assert org["f1"] == pytest.approx(2 / 3)
    for row in per_type.values():
        assert all(isinstance(row[k], float) for k in ("precision", "recall", "f1"))
        assert isinstance(row["support"], int)


def test_strict_mode_differs_on_ill_formed_start() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    pred = [["I-PER", "I-PER", "O", "B-LOC"]]  # an entity opened by I- (ill-formed in IOB2)
    result = score(gold, pred, spans=True)
    # conlleval reads I-PER after O as the start of PER: both entities are right.
    assert result["micro"]["f1"] == 1.0
    assert result["main"] == 1.0
    # Strict IOB2 drops the ill-formed entity: 1 of 1 predicted right, 1 of 2 gold found.
    strict = result["strict"]["micro"]
    assert strict["precision"] == 1.0
    assert strict["recall"] == 0.5
    assert strict["f1"] == pytest.approx(2 / 3)
    assert result["strict"]["per_type"]["LOC"]["f1"] == 1.0


def test_score_without_spans_is_accuracy() -> None:
    gold = [["NOUN", "VERB", "PUNCT"], ["DET", "NOUN"]]
    pred = [["NOUN", "NOUN", "PUNCT"], ["DET", "NOUN"]]
    result = score(gold, pred, spans=False)
    assert result == {"accuracy": pytest.approx(4 / 5), "main": pytest.approx(4 / 5)}


def test_perfect_score() -> None:
    result = score(GOLD, GOLD, spans=True)
    assert result["main"] == 1.0
    assert result["accuracy"] == 1.0
    assert result["strict"]["micro"]["f1"] == 1.0


# --- evaluate with a shipped model --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ner_labeler() -> Labeler:
    return Labeler.load(MODELS / "ner-en-conll03", device="cpu")


def ner_sentences(tags: list[list[str]]) -> list[Sentence]:
    tokens = [["Peter", "Blackburn", "lives", "in", "Berlin", "."], ["John", "visited", "London", "."]]
    return [Sentence(t, g, document=0) for t, g in zip(tokens, tags, strict=True)]


IOB2_GOLD = [["B-PER", "I-PER", "O", "O", "B-LOC", "O"], ["B-PER", "O", "B-LOC", "O"]]
BIOES_GOLD = [["B-PER", "E-PER", "O", "O", "S-LOC", "O"], ["S-PER", "O", "S-LOC", "O"]]


def test_evaluate_with_shipped_model(ner_labeler: Labeler) -> None:
    result = evaluate(ner_labeler, "ner-en-conll03", ner_sentences(IOB2_GOLD))
    assert {"main", "micro", "per_type", "strict", "accuracy", "sentences", "tokens"} <= set(result)
    assert result["sentences"] == 2
    assert result["tokens"] == 10
    assert result["sentences_per_second"] > 0
    assert result["micro"]["support"] == 4  # gold entities, whatever the model predicts
    assert result["main"] == result["micro"]["f1"]
    assert 0.0 <= result["main"] <= 1.0
    assert 0.0 <= result["accuracy"] <= 1.0
    assert set(result["per_type"]) <= {"LOC", "MISC", "ORG", "PER"}
    assert {"LOC", "PER"} <= set(result["per_type"])


def test_evaluate_converts_bioes_gold(ner_labeler: Labeler) -> None:
    iob2 = evaluate(ner_labeler, "ner-en-conll03", ner_sentences(IOB2_GOLD))
    bioes = evaluate(ner_labeler, "ner-en-conll03", ner_sentences(BIOES_GOLD))
    for key in ("main", "micro", "per_type", "strict", "accuracy", "tokens", "sentences"):
        assert bioes[key] == iob2[key], key


def test_evaluate_pos_model_scores_accuracy() -> None:
    labeler = Labeler.load(MODELS / "pos-en-ewt", device="cpu")
    sentences = [Sentence(["The", "cat", "sat", "."], ["DET", "NOUN", "VERB", "PUNCT"])]
    result = evaluate(labeler, "pos-en-ewt", sentences)
    assert result["main"] == result["accuracy"]
    assert result["accuracy"] in (0.0, 0.25, 0.5, 0.75, 1.0)
    assert "micro" not in result
    assert (result["sentences"], result["tokens"]) == (1, 4)


def test_evaluate_recases_tokens_when_asked() -> None:
    from tagger.corpus import Sentence
    from tagger.labeler import Labeler
    from tests.conftest import MODELS

    labeler = Labeler.load(MODELS / "ner-en-conll03", device="cpu")
    sentences = [Sentence(["Angela", "Merkel", "visited", "Paris", "."], ["B-PER", "I-PER", "O", "B-LOC", "O"])]
    for casing, change in (("lower", str.lower), ("upper", str.upper)):
        recased = [Sentence([change(t) for t in s.tokens], s.tags) for s in sentences]
        by_flag = evaluate(labeler, "ner-en-conll03", sentences, casing=casing)  # type: ignore[arg-type]
        by_hand = evaluate(labeler, "ner-en-conll03", recased)
        assert {k: by_flag[k] for k in ("micro", "accuracy")} == {k: by_hand[k] for k in ("micro", "accuracy")}


def test_scoring_entities_without_seqeval_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from tagger.errors import TaggerError

    monkeypatch.setitem(sys.modules, "seqeval.metrics", None)  # an import of it fails
    with pytest.raises(TaggerError, match=r"scoring entities needs seqeval: pip install 'tagger\[train\]'"):
        score([["B-PER", "O"]], [["B-PER", "O"]], spans=True)


def test_evaluate_cuts_long_sentences_as_tagging_does(ner_labeler: Labeler, monkeypatch: pytest.MonkeyPatch) -> None:
    """A corpus with a run-on sentence (no sentence breaks) is scored on the labels that
    `tagger tag` and the service would give: the same pieces of at most MAX_PIECE_TOKENS."""
    from tagger.pipeline import MAX_PIECE_TOKENS, Tagger, prepare

    tokens = ["Peter", "Blackburn", "lives", "in", "Berlin", "."] * 100  # 600 tokens, one sentence
    tags = ["B-PER", "I-PER", "O", "O", "B-LOC", "O"] * 100
    sentences = [Sentence(tokens, tags, document=0), Sentence([], [], document=0)]
    longest: list[int] = []
    label = Labeler.label

    def spy(self: Labeler, batch, *args, **kwargs):  # type: ignore[no-untyped-def]
        longest.append(max((len(s) for s in batch), default=0))
        return label(self, batch, *args, **kwargs)

    monkeypatch.setattr(Labeler, "label", spy)
    result = evaluate(ner_labeler, "ner-en-conll03", sentences)
    assert 0 < max(longest) <= MAX_PIECE_TOKENS
    tagged = Tagger(ner_labeler).tag_prepared([prepare(tokens)])[0]
    predicted = [t.labels["ner-en-conll03"].label for t in tagged.sentences[0]]
    assert result["accuracy"] == token_accuracy([tags], [predicted])
    assert result["tokens"] == 600
