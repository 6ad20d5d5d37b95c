"""CoNLL columns: one reader for train, evaluate and tag; the writer appends predictions."""

from __future__ import annotations

import io

from tagger.document import TaggedDocument, TaggedToken, TokenLabel
from tagger.io.conll import ConllWriter, read_conll
from tagger.io.record import Record


def records(data: bytes) -> list:
    return list(read_conll(io.BytesIO(data)))


def test_sentences_documents_and_lines() -> None:
    data = b"-DOCSTART- -X- O\n\nEU NNP B-ORG\nrejects VBZ O\n\nPeter NNP B-PER\n-DOCSTART- -X- O\n\nBob NNP B-PER\n"
    got = records(data)
    assert [r.tokens for r in got] == [["EU", "rejects"], ["Peter"], ["Bob"]]
    assert [r.document for r in got] == [1, 1, 2]
    assert [r.row_lines for r in got] == [[3, 4], [6], [9]]
    assert got[0].rows == [["EU", "NNP", "B-ORG"], ["rejects", "VBZ", "O"]]
    assert all(r.error is None for r in got)


def test_the_first_line_fixes_the_column_count_for_the_whole_file() -> None:
    (first, second) = records(b"a X O\nb Y O\n\nc O\nd Y O\n")
    assert first.error is None
    assert second.error == "expected 3 columns as on earlier lines, found 2" and second.where == 4


def test_bad_utf8_names_its_line_and_the_next_sentence_still_reads() -> None:
    (bad, good) = records(b"a O\n\xff O\n\nc O\n")
    assert bad.error == "invalid UTF-8 byte 0xff at column 1" and bad.where == 2
    assert good.tokens == ["c"] and good.error is None


def test_tabs_and_whitespace_only_lines_separate_sentences() -> None:
    got = records(b"a\tX\nb\tY\n   \t\nc\tZ\n")
    assert [r.tokens for r in got] == [["a", "b"], ["c"]]


def test_writer_appends_one_column_per_model_after_the_input_columns() -> None:
    (record,) = records(b"John NNP B-PER\nlives VBZ O\n")
    tokens = [
        TaggedToken("John", 0, 4, {"ner": TokenLabel("B-PER", 0.9), "pos": TokenLabel("PROPN", 0.8)}),
        TaggedToken("lives", 5, 10, {"ner": TokenLabel("O", 1.0), "pos": TokenLabel("VERB", 0.7)}),
    ]
    out = io.StringIO()
    ConllWriter(out, ["ner", "pos"]).write(record, TaggedDocument(sentences=[tokens]))
    assert out.getvalue() == "John NNP B-PER B-PER PROPN\nlives VBZ O O VERB\n\n"


def test_writer_refuses_labels_that_do_not_match_the_input_lines() -> None:
    (record,) = records(b"John NNP\nlives VBZ\n")
    doc = TaggedDocument(sentences=[[TaggedToken("John", 0, 4, {"ner": TokenLabel("O", 1.0)})]])
    try:
        ConllWriter(io.StringIO(), ["ner"]).write(record, doc)
    except ValueError as exc:
        assert "2 token lines but 1 labels" in str(exc)
    else:
        raise AssertionError("a mismatch must not be written")


def test_a_sentence_over_the_token_limit_is_a_bad_record_that_holds_no_memory(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tagger.io import record

    monkeypatch.setattr(record, "MAX_SENTENCE_TOKENS", 5)
    (bad, good) = records(b"".join(b"w%d O\n" % i for i in range(9)) + b"\nok O\n")
    assert bad.error == "sentence longer than 5 tokens; separate sentences by blank lines" and bad.where == 6
    assert len(bad.rows or []) == 5 and good.tokens == ["ok"]


def test_columns_split_at_spaces_and_tabs_only_not_inside_a_token() -> None:
    (got,) = records("Price\tNN\tO\n10\u00a0000 CD  O\n1\u2009000\tCD\tO\n".encode())
    assert got.error is None
    assert got.tokens == ["Price", "10\u00a0000", "1\u2009000"]
    assert got.rows == [["Price", "NN", "O"], ["10\u00a0000", "CD", "O"], ["1\u2009000", "CD", "O"]]


def test_a_token_with_spaces_from_conllu_input_stays_one_column_in_conll_output() -> None:
    """Regression: the form "10 000" was written as two columns, shifting the rest."""
    record = Record(1, tokens=["10 000", "New\tYork"], rows=[["10 000", "NUM"], ["New\tYork", "PROPN"]])
    doc = TaggedDocument(sentences=[[TaggedToken(t, 0, 0, {"ner": TokenLabel("O", 1.0)}) for t in record.tokens or []]])
    out = io.StringIO()
    ConllWriter(out, ["ner"]).write(record, doc)
    assert out.getvalue() == "10\u00a0000 NUM O\nNew\u00a0York PROPN O\n\n"
    (back,) = records(out.getvalue().encode())
    assert (
        back.tokens == ["10\u00a0000", "New\u00a0York"] and back.rows is not None and back.rows[0][1:] == ["NUM", "O"]
    )


def test_tokens_the_service_refuses_are_bad_records_here_too() -> None:
    """Regression: tagger tag tagged CoNLL tokens (a zero-width space at an edge, a control
    character) that POST /tag and Tagger.tag refuse."""
    (bad, ctl, good) = records("\u200bParis O\n\nx\x01y O\n\nParis O\n".encode())
    assert bad.error == "bad token: whitespace \\u200b at the start of the token" and bad.where == 1
    assert ctl.error == "bad token: control character or line break \\u0001 at character 1" and ctl.where == 3
    assert good.error is None


def test_document_boundaries_are_written_back() -> None:
    """Regression: -DOCSTART- lines were dropped, so the output read as one document."""
    data = b"-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\n\n-DOCSTART- -X- -X- O\n\nBob NNP B-NP B-PER\n"
    out = io.StringIO()
    writer = ConllWriter(out, ["ner"])
    for record in records(data):
        tokens = [TaggedToken(t, 0, 0, {"ner": TokenLabel("O", 1.0)}) for t in record.tokens or []]
        writer.write(record, TaggedDocument(sentences=[tokens]))
    assert out.getvalue() == (
        "-DOCSTART- -X- -X- O O\n\nEU NNP B-NP B-ORG O\n\n-DOCSTART- -X- -X- O O\n\nBob NNP B-NP B-PER O\n\n"
    )
    assert [r.document for r in records(out.getvalue().encode())] == [1, 2]
