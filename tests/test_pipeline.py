"""The document pipeline: cut long sentences into pieces, join them back, entities."""

from __future__ import annotations

import io
import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tagger.errors import TaggerError
from tagger.io import make_writer, read_records
from tagger.io.validate import input_problem
from tagger.labeler import Labeler
from tagger.pipeline import PreparedDocument, Tagger, cut, join, prepare
from tagger.tagfiles import Chunk, tag_chunk
from tagger.tokenize import Token
from tests.conftest import MODELS, tiny_loaded_model


def tiny_tagger(max_piece_tokens: int = 256) -> Tagger:
    models = [tiny_loaded_model("ner", ("O", "B-PER", "I-PER")), tiny_loaded_model("pos", ("NOUN", "VERB"))]
    return Tagger(Labeler(models, torch.device("cpu")), max_piece_tokens)  # type: ignore[arg-type]


def doc_of(lengths: list[int]) -> PreparedDocument:
    sentences, position = [], 0
    for n in lengths:
        sentence = []
        for i in range(n):
            sentence.append(Token(f"t{i}", position, position + len(f"t{i}")))
            position += len(f"t{i}") + 1
        sentences.append(sentence)
    return PreparedDocument(" ".join(t.text for s in sentences for t in s), sentences)


@given(st.lists(st.lists(st.integers(0, 700), max_size=5), max_size=4), st.integers(1, 300))
def test_cut_then_join_gives_back_every_sentence_in_order(docs: list[list[int]], size: int) -> None:
    documents = [doc_of(lengths) for lengths in docs]
    pieces = cut(documents, size)
    assert all(1 <= len(p.tokens) <= size for p in pieces)
    joined = join(documents, pieces, [list(p.tokens) for p in pieces])
    assert joined == [[list(s) for s in d.sentences] for d in documents]


def test_join_refuses_pieces_out_of_order() -> None:
    documents = [doc_of([5])]
    pieces = cut(documents, 2)
    try:
        join(documents, pieces[::-1], [list(p.tokens) for p in pieces[::-1]])
    except ValueError as exc:
        assert "out of order" in str(exc)
    else:
        raise AssertionError("pieces out of order must be refused")


@given(st.integers(1, 900), st.integers(1, 300), st.integers(0, 64))
def test_a_cut_leaves_every_token_context_on_both_sides(length: int, size: int, overlap: int) -> None:
    (doc,) = documents = [doc_of([length])]
    pieces = cut(documents, size, overlap)
    shared = max(0, min(overlap, (size - 1) // 2))
    if length <= size:
        assert [(p.offset, len(p.tokens), p.keep) for p in pieces] == [(0, length, (0, length))]
    for piece in pieces:
        first = doc.sentences[0].index(piece.tokens[0])  # the sentence index of the piece's first token
        assert piece.offset == first + piece.keep[0] and piece.keep[1] - piece.keep[0] >= 1
        assert piece.keep[0] >= min(shared, first)  # context before, unless the sentence starts here
        assert len(piece.tokens) - piece.keep[1] >= min(shared, length - first - piece.keep[1])


def test_a_cut_sentence_is_returned_whole_with_the_labels_of_its_pieces_middles() -> None:
    tagger = tiny_tagger(max_piece_tokens=4)
    (doc,) = tagger.tag([[f"w{i % 3}" for i in range(10)]])
    assert [len(s) for s in doc.sentences] == [10]
    assert [t.start for t in doc.sentences[0]] == list(range(0, 30, 3))
    pieces = cut([prepare([f"w{i % 3}" for i in range(10)])], 4)
    assert [(p.offset, p.keep) for p in pieces] == [(0, (0, 3)), (3, (1, 3)), (5, (1, 3)), (7, (1, 4))]
    alone = tagger.labeler.label([[t.text for t in p.tokens] for p in pieces])["ner"]
    kept = [label for p, labels in zip(pieces, alone, strict=True) for label in labels[p.keep[0] : p.keep[1]]]
    assert [t.labels["ner"] for t in doc.sentences[0]] == kept


def test_an_entity_across_a_cut_is_one_entity() -> None:
    """Regression: a sentence longer than a piece was cut with no shared context, so "New"
    ended one piece and "York" began the next, and came back as two entities."""
    filler = ["the", "company", "said", "on", "Monday", "that", "it", "would", "pay", "more"]
    tokens = [*(filler * 30)[:254], "in", "New", "York", "."]  # "New": token 255, the last of a 256-token piece
    tagger = Tagger.load(MODELS / "ner-en-conll03", device="cpu")
    (doc,) = tagger.tag([tokens])
    assert [(e.text, e.label) for e in doc.entities if e.text != "Monday"] == [("New York", "LOC")]


def test_prepare_text_and_tokens() -> None:
    doc = prepare("Angela Merkel visited Paris. She left.", "d1")
    assert doc.id == "d1" and [len(s) for s in doc.sentences] == [5, 3]
    tokens = prepare(["New", "York"])
    assert tokens.text == "New York" and [(t.start, t.end) for t in tokens.sentences[0]] == [(0, 3), (4, 8)]
    assert prepare([]).sentences == []


def test_shipped_models_give_entities_with_offsets() -> None:
    tagger = Tagger.load([MODELS / "ner-en-conll03", MODELS / "pos-en-ewt"], device="cpu")
    text = "Angela Merkel visited Paris."
    doc = tagger(text)
    assert [(e.text, e.label, e.start, e.end) for e in doc.entities] == [
        ("Angela Merkel", "PER", 0, 13),
        ("Paris", "LOC", 22, 27),
    ]
    assert all(text[e.start : e.end] == e.text for e in doc.entities)
    assert doc.sentences[0][0].labels["pos-en-ewt"].label == "PROPN"


def test_scores_are_what_the_record_says_and_an_entity_is_its_tokens_mean() -> None:
    tagger = tiny_tagger()
    doc = tagger("w x y. W X Y z w x. y")
    scores = [label.score for s in doc.sentences for t in s for label in t.labels.values()]
    assert scores and all(0.0 <= x <= 1.0 and x == round(x, 4) for x in scores)
    record = json.loads(
        tag_chunk(tagger, Chunk(list(read_records(io.BytesIO(b"w x y. W X Y z w x. y"), "text")), "jsonl"))[0]
    )
    assert [t["labels"][m]["score"] for s in record["sentences"] for t in s for m in t["labels"]] == scores
    real = Tagger.load(MODELS / "ner-en-conll03", device="cpu")("Angela Merkel visited Paris.")
    for entity in real.entities:
        tokens = real.sentences[entity.sentence][entity.token_start : entity.token_end]
        mean = sum(t.labels["ner-en-conll03"].score for t in tokens) / len(tokens)
        assert entity.score == round(mean, 4)


@pytest.mark.parametrize(
    "text",
    ["angela merkel visited paris.", "ANGELA MERKEL VISITED PARIS."],
    ids=["lower", "upper"],
)
def test_the_shipped_ner_model_finds_entities_in_text_without_case(text: str) -> None:
    """Chat, queries and transcripts come lower-cased, headlines upper-cased (issue 11)."""
    doc = Tagger.load(MODELS / "ner-en-conll03", device="cpu")(text)
    assert [(e.text, e.label) for e in doc.entities] == [(text[:13], "PER"), (text[22:27], "LOC")]


def _conll(sentences: list[int]) -> bytes:
    lines = []
    for n in sentences:
        lines += [f"w{i}\tC{i % 7}\tx" for i in range(n)] + [""]
    return ("\n".join(lines) + "\n").encode()


@settings(max_examples=12, deadline=None)
@given(st.lists(st.integers(1, 2000), min_size=1, max_size=3))
def test_every_output_format_has_one_line_or_token_per_input_token(sentences: list[int]) -> None:
    """For CoNLL, CoNLL-U and JSONL output: exactly one line (or token) per input token,
    in order, with the input columns preserved, whatever the sentence lengths."""
    tagger = tiny_tagger()
    data = _conll(sentences)
    records = list(read_records(io.BytesIO(data), "conll"))
    for fmt in ("conll", "conllu", "jsonl"):
        out, _, tokens = tag_chunk(tagger, Chunk(records, fmt))  # type: ignore[arg-type]
        assert tokens == sum(sentences)
        if fmt == "jsonl":
            docs = [json.loads(line) for line in out.splitlines()]
            assert [[t["text"] for s in d["sentences"] for t in s] for d in docs] == [
                [f"w{i}" for i in range(n)] for n in sentences
            ]
            continue
        blocks = out.split("\n\n")[:-1]
        assert len(blocks) == len(sentences)
        for n, block in zip(sentences, blocks, strict=True):
            lines = block.split("\n")
            assert len(lines) == n
            if fmt == "conll":
                assert [line.split(" ")[:3] for line in lines] == [[f"w{i}", f"C{i % 7}", "x"] for i in range(n)]
            else:
                assert [line.split("\t")[:2] for line in lines] == [[str(i + 1), f"w{i}"] for i in range(n)]


def test_writers_take_the_joined_document(tmp_path: object) -> None:
    tagger = tiny_tagger(max_piece_tokens=3)
    (record,) = read_records(io.BytesIO(_conll([8])), "conll")
    out = io.StringIO()
    make_writer(out, "conll", list(tagger.models)).write(record, tagger.tag([record.tokens or []])[0])
    assert len(out.getvalue().strip().split("\n")) == 8


@pytest.mark.parametrize(
    ("documents", "message"),
    [
        ([["a\ud800"]], "field 'tokens[0][0]': lone surrogate \\ud800 at character 1"),
        ([["John", "", "Berlin"]], "field 'tokens[0][1]': empty token"),
        (["fine", [" ", "\n", "Paris"]], "field 'tokens[1][0]': token holds only whitespace or control characters"),
        (["ok", "x\udfff"], "field 'texts[1]': lone surrogate \\udfff at character 1"),
    ],
)
def test_tag_refuses_what_the_service_refuses_in_its_words(documents: list, message: str) -> None:
    """Regression: Tagger.tag tagged tokens that POST /tag and tagger tag refuse."""
    tagger = tiny_tagger()
    with pytest.raises(TaggerError) as refused:
        tagger.tag(documents)
    assert str(refused.value) == message
    assert str(refused.value) == input_problem(documents)  # one rule, shared with the service


def test_tag_still_takes_odd_but_visible_tokens_and_any_text() -> None:
    (tokens, text) = tiny_tagger().tag([["e\u0301", "👍🏽", "東京"], " \n\x00 a\u200bb "])
    assert [t.text for t in tokens.sentences[0]] == ["e\u0301", "👍🏽", "東京"]
    assert [t.text for s in text.sentences for t in s] == ["a", "b"]
