"""The labeler: output labels, models in parallel threads, document context."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from tagger.labeler import Labeler, _token_wise_labels
from tagger.tags import Span, TagScheme, convert, tags_from_spans
from tests.conftest import MODELS, tiny_loaded_model


def test_token_wise_bioes_labels_equal_conversion_through_spans() -> None:
    loaded = Labeler.load(MODELS / "ner-en-conll03", device="cpu").models["ner-en-conll03"]
    table = _token_wise_labels(loaded)
    assert table is not None and loaded.label_scheme == TagScheme.BIOES
    index = {label: i for i, label in enumerate(loaded.vocab.labels)}
    rng = random.Random(0)
    for _ in range(300):  # random well-formed sentences, as the CRF's constraints guarantee
        length, spans, position = rng.randint(1, 12), [], 0
        while position < length:
            size = rng.randint(1, 4)
            if position + size <= length and rng.random() < 0.5:
                spans.append(Span(rng.choice(["PER", "LOC", "ORG", "MISC"]), position, position + size))
            position += size
        bioes = tags_from_spans(spans, length, TagScheme.BIOES)
        assert [table[index[t]] for t in bioes] == convert(bioes, TagScheme.BIOES, TagScheme.IOB2)


def test_softmax_bioes_models_convert_whole_sentences() -> None:
    loaded = Labeler.load(MODELS / "ner-en-conll03", device="cpu").models["ner-en-conll03"]
    loaded.config.model.head = "softmax"  # a softmax head may decode ill-formed BIOES
    assert _token_wise_labels(loaded) is None


def test_models_in_parallel_threads_give_the_same_results() -> None:
    paths = [MODELS / "ner-en-conll03", MODELS / "pos-en-ewt"]
    sentences = [["Angela", "Merkel", "visited", "Paris", "."], [], ["The", "U.S.", "Army", "said", "so", "."]]
    sequential = Labeler.load(paths, device="cpu").label(sentences)
    parallel = Labeler.load(paths, device="cpu", parallel_models=True)
    assert parallel._pool is not None
    assert parallel.label(sentences) == sequential
    assert sequential["ner-en-conll03"][1] == [] and len(sequential["pos-en-ewt"][2]) == 6


# --- document context -----------------------------------------------------------------------------------------------


def _context_model(context: int) -> object:
    loaded = tiny_loaded_model()
    loaded.config.model.context_sentences = context  # type: ignore[attr-defined]
    return loaded


def _same(a: list, b: list) -> None:
    assert [t.label for t in a] == [t.label for t in b]
    assert [t.score for t in a] == pytest.approx([t.score for t in b], abs=1.5e-4)  # at most one rounding step


def test_a_context_model_labels_a_sentence_with_its_neighbours_in_view() -> None:
    labeler = Labeler([_context_model(1)], torch.device("cpu"))  # type: ignore[list-item]
    rng = random.Random(3)
    first, centre, last = ([rng.choice("wxy") for _ in range(n)] for n in (4, 5, 3))
    together = labeler.label([first, centre, last], documents=[0, 0, 0])["tiny"]
    # The centre sentence is labelled as the middle of the three run as one sequence...
    whole = labeler.label([first + centre + last])["tiny"][0]
    _same(together[1], whole[4:9])
    # ...while each edge sentence sees only its one neighbour.
    _same(together[0], labeler.label([first + centre])["tiny"][0][:4])
    # In documents of their own, the same sentences are labelled alone.
    apart = labeler.label([first, centre, last], documents=[0, 1, 2])["tiny"]
    _same(apart[1], labeler.label([centre])["tiny"][0])
    assert [t.score for t in apart[1]] != pytest.approx([t.score for t in together[1]], abs=1e-6)


def test_a_model_without_context_ignores_documents() -> None:
    labeler = Labeler([_context_model(0)], torch.device("cpu"))  # type: ignore[list-item]
    sentences = [["w", "x"], ["y", "w", "x"], ["x"]]
    assert labeler.label(sentences, documents=[0, 0, 0]) == labeler.label(sentences)


def test_the_pipeline_and_evaluate_give_a_context_model_the_same_neighbours() -> None:
    from tagger.corpus import Sentence
    from tagger.evaluate import evaluate
    from tagger.pipeline import Tagger

    labeler = Labeler([_context_model(1)], torch.device("cpu"))  # type: ignore[list-item]
    sentences = [["W", "x", "."], ["Y", "w", "."], ["X", "y", "."]]
    expected = labeler.label(sentences, documents=[0, 0, 0])["tiny"]
    # One text is one document: its sentences are each other's context.
    tagged = Tagger(labeler)(" ".join(" ".join(s) for s in sentences))
    assert [[t.labels["tiny"].label for t in s] for s in tagged.sentences] == [[t.label for t in s] for s in expected]
    # evaluate reads documents from the corpus: the score is that of the labels above.
    gold = [Sentence(s, [t.label for t in labels], document=0) for s, labels in zip(sentences, expected, strict=True)]
    assert evaluate(labeler, "tiny", gold)["main"] == pytest.approx(1.0)


# --- sentence casing ------------------------------------------------------------------------------------------------


def test_a_sentence_casing_model_labels_single_case_text_with_the_uncased_id() -> None:
    from tagger import checkpoint
    from tagger.vocab import UNCASED

    loaded = tiny_loaded_model()
    assert loaded.model.case_embed.num_embeddings == UNCASED  # type: ignore[attr-defined]
    loaded.config.model.sentence_casing = True  # type: ignore[attr-defined]
    torch.manual_seed(0)
    loaded.model = checkpoint.build_model(loaded.config, loaded.vocab, loaded.label_scheme).eval()  # type: ignore[attr-defined]
    embed = loaded.model.case_embed  # type: ignore[attr-defined]
    assert embed.num_embeddings == UNCASED + 1
    labeler = Labeler([loaded], torch.device("cpu"))  # type: ignore[list-item]
    before = labeler.label([["w", "x"], ["W", "x"]])["tiny"]
    with torch.no_grad():
        embed.weight[UNCASED] += 5.0  # only the single-case sentence can see this row
    after = labeler.label([["w", "x"], ["W", "x"]])["tiny"]
    assert [t.score for t in after[0]] != pytest.approx([t.score for t in before[0]], abs=1e-6)
    _same(after[1], before[1])


# --- document consistency -------------------------------------------------------------------------------------------

TYPED = ("O", "B-LOC", "I-LOC", "B-ORG", "I-ORG")


def _consistent_labeler(weight: float) -> Labeler:
    """The tiny model with scripted emission scores: "w" after "x" is surely ORG, "w" after
    "y" is LOC by a little; every other token is surely O."""
    loaded = tiny_loaded_model(labels=TYPED)
    loaded.config.model.document_consistency = weight  # type: ignore[attr-defined]
    labeler = Labeler([loaded], torch.device("cpu"))  # type: ignore[list-item]
    runner = labeler._runners["tiny"]
    index = {label: i for i, label in enumerate(runner.loaded.vocab.labels)}  # type: ignore[attr-defined]

    def scores(sentences: list[list[str]]) -> np.ndarray:
        out = np.zeros((sum(len(s) for s in sentences), len(index)), dtype=np.float32)  # (N, K)
        out[:, index["O"]] = 8.0
        row = 0
        for sentence in sentences:
            for word in sentence:
                if word == "w":
                    loc, org = (2.0, 1.6) if sentence[0] == "y" else (0.0, 9.0)
                    out[row] = 0.0
                    out[row, index["B-LOC"]], out[row, index["B-ORG"]] = loc, org
                row += 1
        return out

    runner.scores = scores  # type: ignore[method-assign]
    return labeler


def test_a_name_takes_the_type_its_other_mentions_in_the_document_have() -> None:
    sentences = [["x", "w"], ["y", "w"], ["y", "w"]]
    alone = _consistent_labeler(0.0).label(sentences, documents=[0, 0, 1])["tiny"]
    assert [t.label for t in alone[1]] == ["O", "B-LOC"]  # by its own scores
    together = _consistent_labeler(1.0).label(sentences, documents=[0, 0, 1])["tiny"]
    assert [t.label for t in together[0]] == ["O", "B-ORG"]
    assert [t.label for t in together[1]] == ["O", "B-ORG"]  # the document's other "w" is surely ORG
    assert together[1][1].score > 0.5  # the score is of the label given, after the bonus
    assert [t.label for t in together[2]] == ["O", "B-LOC"]  # another document: no pull
    _same(together[2], alone[2])


def test_consistency_leaves_a_name_mentioned_once_per_document_alone() -> None:
    sentences = [["x", "w"], ["y", "w"]]
    apart = _consistent_labeler(1.0).label(sentences, documents=[0, 1])["tiny"]
    off = _consistent_labeler(0.0).label(sentences, documents=[0, 1])["tiny"]
    assert apart == off


def test_decoding_in_small_groups_gives_the_labels_of_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CRF decodes a call's windows in groups of at most ``DECODE_TOKENS`` tokens
    (a longer window alone); where the groups fall changes nothing."""
    import tagger.labeler

    sentences = [["x", "w"], ["y", "w", *"abcdefgh"], ["y", "w"], ["a"], ["x", "w", "b"], ["y", "w"]]
    documents = [0, 0, 0, 1, 1, 1]
    whole = _consistent_labeler(1.0).label(sentences, documents=documents)["tiny"]
    monkeypatch.setattr(tagger.labeler, "DECODE_TOKENS", 3)
    grouped = _consistent_labeler(1.0).label(sentences, documents=documents)["tiny"]
    for a, b in zip(grouped, whole, strict=True):
        _same(a, b)
    assert [t.label for t in whole[1]] == ["O", "B-ORG", *["O"] * 8]  # pulled by sentence 0's "w"
    assert [t.label for t in whole[2]] == ["O", "B-ORG"]


def test_consistency_reads_the_centre_sentence_of_each_context_window() -> None:
    """With neighbours in each window, the labels and the type bonus go to the tokens of
    the centre sentence: each token's label follows its own word."""
    labeler = _consistent_labeler(1.0)
    (loaded,) = labeler.models.values()
    loaded.config.model.context_sentences = 1  # type: ignore[attr-defined]
    runner = labeler._runners["tiny"]
    index = {label: i for i, label in enumerate(runner.loaded.vocab.labels)}  # type: ignore[attr-defined]

    def scores(sentences: list[list[str]]) -> np.ndarray:  # by the word alone: "w" ORG, "v" LOC
        out = np.zeros((sum(len(s) for s in sentences), len(index)), dtype=np.float32)
        out[:, index["O"]] = 8.0
        words = [w for s in sentences for w in s]
        for row, word in enumerate(words):
            if word in ("w", "v"):
                out[row] = 0.0
                out[row, index["B-ORG" if word == "w" else "B-LOC"]] = 9.0
        return out

    runner.scores = scores  # type: ignore[method-assign]
    sentences = [["a", "w", "b"], ["v"], ["c", "c", "v", "w"], ["w"]]
    got = labeler.label(sentences, documents=[0, 0, 0, 1])["tiny"]
    assert [[t.label for t in s] for s in got] == [
        ["O", "B-ORG", "O"],
        ["B-LOC"],
        ["O", "O", "B-LOC", "B-ORG"],
        ["B-ORG"],
    ]
