from __future__ import annotations

import random

import pytest
from seqeval.metrics.sequence_labeling import get_entities

from tagger.tags import Span, TagScheme, convert, detect_scheme, spans_from_tags, tags_from_spans, validate

IOB2 = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "O", "B-ORG"]
IOB1 = ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-LOC", "O", "I-ORG"]
BIOES = ["B-PER", "E-PER", "O", "S-LOC", "B-LOC", "E-LOC", "O", "S-ORG"]
SPANS = [Span("PER", 0, 2), Span("LOC", 3, 4), Span("LOC", 4, 6), Span("ORG", 7, 8)]


@pytest.mark.parametrize(("tags", "scheme"), [(IOB2, TagScheme.IOB2), (IOB1, TagScheme.IOB1), (BIOES, TagScheme.BIOES)])
def test_spans_from_each_scheme(tags: list[str], scheme: TagScheme) -> None:
    assert spans_from_tags(tags, scheme) == SPANS


@pytest.mark.parametrize("source", [TagScheme.IOB1, TagScheme.IOB2, TagScheme.BIOES])
@pytest.mark.parametrize("target", [TagScheme.IOB1, TagScheme.IOB2, TagScheme.BIOES])
def test_conversion_round_trips(source: TagScheme, target: TagScheme) -> None:
    examples = {TagScheme.IOB1: IOB1, TagScheme.IOB2: IOB2, TagScheme.BIOES: BIOES}
    converted = convert(examples[source], source, target)
    assert converted == examples[target]
    assert convert(converted, target, source) == examples[source]


def test_tags_from_spans_single_token_bioes() -> None:
    assert tags_from_spans([Span("X", 1, 2)], 3, TagScheme.BIOES) == ["O", "S-X", "O"]


def test_detect_scheme() -> None:
    assert detect_scheme([IOB2]) == TagScheme.IOB2
    assert detect_scheme([IOB1]) == TagScheme.IOB1
    assert detect_scheme([BIOES]) == TagScheme.BIOES
    assert detect_scheme([["NOUN", "VERB", "PUNCT"]]) == TagScheme.NONE
    # One stray I- start in an otherwise IOB2 corpus (as in CoNLL-2002 Spanish) stays IOB2.
    assert detect_scheme([["I-PER", "O"], ["B-LOC", "O"], ["B-ORG", "I-ORG"]]) == TagScheme.IOB2


def test_lenient_decoding_of_ill_formed_iob2() -> None:
    assert spans_from_tags(["O", "I-PER", "I-PER", "I-LOC"], TagScheme.IOB2) == [Span("PER", 1, 3), Span("LOC", 3, 4)]


def test_validate_reports_i_after_o() -> None:
    problems = validate(["O", "I-PER", "O"], TagScheme.IOB2)
    assert [(p.index, p.tag) for p in problems] == [(1, "I-PER")]
    assert "I-PER cannot follow O" in problems[0].message
    assert validate(IOB2, TagScheme.IOB2) == []
    assert validate(BIOES, TagScheme.BIOES) == []
    bad_end = validate(["B-PER"], TagScheme.BIOES)
    assert bad_end and "cannot end" in bad_end[0].message
    assert validate(["B-PER", "I-LOC"], TagScheme.IOB2)[0].index == 1


def test_validate_rejects_non_bio_tag() -> None:
    problems = validate(["O", "PER"], TagScheme.IOB2)
    assert problems and "not a BIO tag" in problems[0].message


@pytest.mark.parametrize(
    "alphabet",
    [["O", "B-PER", "I-PER", "B-LOC", "I-LOC"], ["O"] + [f"{p}-{t}" for p in "BIES" for t in ("PER", "LOC")]],
    ids=["iob2", "bioes"],
)
def test_spans_match_the_scorer_on_any_sequence(alphabet: list[str]) -> None:
    """The entities we return are the ones seqeval scores, ill-formed sequences included
    (a stray I-, an E- after O, a type change inside an entity)."""
    rng = random.Random(7)
    for _ in range(20_000):
        tags = [rng.choice(alphabet) for _ in range(rng.randint(0, 8))]
        ours = sorted((s.label, s.start, s.end - 1) for s in spans_from_tags(tags))
        assert ours == sorted(get_entities(tags)), tags
