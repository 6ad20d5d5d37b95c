"""CoNLL-U: ranges and empty nodes are kept aside and written back in place."""

from __future__ import annotations

import io

from tagger.document import TaggedDocument, TaggedToken, TokenLabel
from tagger.io.conllu import ConlluWriter, read_conllu

CONLLU = (
    "# newdoc id = d1\n# sent_id = s1\n# text = I don't know.\n"
    "1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_\n"
    "2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n"
    "2\tdo\tdo\tAUX\tVBP\t_\t4\taux\t_\t_\n"
    "3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_\n"
    "4\tknow\tknow\tVERB\tVB\t_\t0\troot\t_\tSpaceAfter=No\n"
    "4.1\tknown\t_\t_\t_\t_\t_\t_\t_\t_\n"
    "5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_\n\n"
)


def test_reader_keeps_forms_ids_comments_and_extra_lines() -> None:
    (record,) = read_conllu(io.BytesIO(CONLLU.encode()))
    assert record.tokens == ["I", "do", "n't", "know", "."]
    assert record.id == "s1" and record.comment("text") == "I don't know." and record.document == 1
    assert sorted(record.extra) == [1, 4]
    assert record.row_lines == [4, 6, 7, 8, 10]


def test_writer_reproduces_the_input_with_labels_in_misc() -> None:
    (record,) = read_conllu(io.BytesIO(CONLLU.encode()))
    tokens = [TaggedToken(t, 0, 0, {"pos": TokenLabel("X", 1.0)}) for t in record.tokens or []]
    out = io.StringIO()
    ConlluWriter(out, ["pos"]).write(record, TaggedDocument(sentences=[tokens]))
    expected = CONLLU.replace("\t_\t_\n1\t", "\t_\t_\n1\t")  # same lines, MISC extended below
    lines = out.getvalue().splitlines()
    assert len(lines) == len(expected.splitlines())
    assert lines[:3] == expected.splitlines()[:3]
    assert lines[4] == "2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_" and lines[8] == "4.1\tknown\t_\t_\t_\t_\t_\t_\t_\t_"
    assert lines[7].endswith("\tSpaceAfter=No|pos=X") and lines[3].endswith("\t_\tpos=X")


def test_bad_lines_name_their_line() -> None:
    (bad,) = read_conllu(io.BytesIO(b"# c\n1\tI\tI\tPRON\n"))
    assert bad.error == "expected 10 tab-separated columns, found 4" and bad.where == 2
    (bad,) = read_conllu(io.BytesIO(b"x\tI\t_\t_\t_\t_\t_\t_\t_\t_\n"))
    assert bad.error == "invalid word id 'x'" and bad.where == 1


def test_raw_text_input_gets_a_text_comment_and_minimal_lines() -> None:
    from tagger.io.record import Record

    doc = TaggedDocument(sentences=[[TaggedToken("Hi", 0, 2, {"pos": TokenLabel("INTJ", 1.0)})]])
    out = io.StringIO()
    ConlluWriter(out, ["pos"]).write(Record(1, text="Hi"), doc)
    assert (
        out.getvalue()
        == "# newdoc id = line-1\n# sent_id = line-1-1\n# text = Hi\n1\tHi\t_\t_\t_\t_\t_\t_\t_\tpos=INTJ\n\n"
    )


def test_raw_text_gets_ud_comments_with_the_source_text_and_space_after() -> None:
    """Regression: no sent_id or newdoc, the record's id dropped, ``# text`` the tokens
    joined by spaces, no SpaceAfter=No: not valid UD."""
    from tagger.io.record import Record
    from tagger.pipeline import Tagger
    from tests.conftest import MODELS

    doc = Tagger.load([MODELS / "pos-en-ewt"]).tag(["Angela Merkel visited Paris. She left."])[0]
    out = io.StringIO()
    ConlluWriter(out, ["pos-en-ewt"]).write(Record(1, id="doc-7", text=doc.text), doc)
    lines = out.getvalue().splitlines()
    assert lines[:3] == ["# newdoc id = doc-7", "# sent_id = doc-7-1", "# text = Angela Merkel visited Paris."]
    assert lines[6].startswith("4\tParis\t") and "SpaceAfter=No|pos-en-ewt=PROPN" in lines[6]
    assert lines[9:11] == ["# sent_id = doc-7-2", "# text = She left."]
    (first, second) = read_conllu(io.BytesIO(out.getvalue().encode()))
    assert first.tokens == ["Angela", "Merkel", "visited", "Paris", "."] and second.comment("sent_id") == "doc-7-2"


def test_tagging_conllu_output_again_replaces_the_models_labels_instead_of_repeating_them() -> None:
    (record,) = read_conllu(io.BytesIO(CONLLU.encode()))
    for label in ("X", "Y"):
        tokens = [TaggedToken(t, 0, 0, {"pos": TokenLabel(label, 1.0)}) for t in record.tokens or []]
        out = io.StringIO()
        ConlluWriter(out, ["pos"]).write(record, TaggedDocument(sentences=[tokens]))
        (record,) = read_conllu(io.BytesIO(out.getvalue().encode()))
    lines = out.getvalue().splitlines()
    assert lines[7].endswith("\tSpaceAfter=No|pos=Y") and lines[3].endswith("\t_\tpos=Y")
