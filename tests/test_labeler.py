"""The labeler: output labels, models in parallel threads, document context."""

from __future__ import annotations

import random

from tagger.labeler import Labeler, _token_wise_labels
from tagger.tags import Span, TagScheme, convert, tags_from_spans
from tests.conftest import MODELS


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
    loaded.model.crf = None  # a softmax head may decode ill-formed BIOES
    assert _token_wise_labels(loaded) is None


def test_models_in_parallel_threads_give_the_same_results() -> None:
    paths = [MODELS / "ner-en-conll03", MODELS / "pos-en-ewt"]
    sentences = [["Angela", "Merkel", "visited", "Paris", "."], [], ["The", "U.S.", "Army", "said", "so", "."]]
    sequential = Labeler.load(paths, device="cpu").label(sentences)
    parallel = Labeler.load(paths, device="cpu", parallel_models=True)
    assert parallel._pool is not None
    assert parallel.label(sentences) == sequential
    assert sequential["ner-en-conll03"][1] == [] and len(sequential["pos-en-ewt"][2]) == 6
