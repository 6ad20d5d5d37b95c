from __future__ import annotations

from pathlib import Path

import pytest

from tagger.corpus import check_scheme, read_corpus
from tagger.errors import CorpusError, TaggerError
from tagger.tags import TagScheme

CONLLU = """# sent_id = 1
# text = I don't know.
1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_
2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
2\tdo\tdo\tAUX\tVBP\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
4\tknow\tknow\tVERB\tVB\t_\t0\troot\t_\tSpaceAfter=No
4.1\tknown\t_\t_\t_\t_\t_\t_\t_\t_
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

"""


def test_read_conll_skips_docstart_and_splits_sentences(ner_file: Path) -> None:
    sentences = read_corpus(ner_file)
    assert [s.tokens[0] for s in sentences] == ["EU", "Peter", "John"]
    assert sentences[1].tags == ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]
    assert sentences[1].line == 9 and sentences[1].lines == [9, 10, 11, 12, 13, 14]
    assert [s.document for s in sentences] == [1, 1, 1]


def test_read_conll_columns_tabs_and_whitespace_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    path.write_text("a\tX\tB-PER\nb\tY\tO\n   \t\nc\tZ\tO\n", encoding="utf-8")
    sentences = read_corpus(path, token_column=0, tag_column=1)
    assert [s.tokens for s in sentences] == [["a", "b"], ["c"]]
    assert [s.tags for s in sentences] == [["X", "Y"], ["Z"]]


def test_read_conllu_skips_ranges_and_empty_nodes(tmp_path: Path) -> None:
    path = tmp_path / "t.conllu"
    path.write_text(CONLLU, encoding="utf-8")
    (sentence,) = read_corpus(path, "conllu")
    assert sentence.tokens == ["I", "do", "n't", "know", "."]
    assert sentence.tags == ["PRON", "AUX", "PART", "VERB", "PUNCT"]
    assert sentence.lines == [3, 5, 6, 7, 9]
    (xpos,) = read_corpus(path, "conllu", tag_field="xpos")
    assert xpos.tags == ["PRP", "VBP", "RB", "VB", "."]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a X B-PER\nb O\n", "t.txt:2: expected 3 columns as on earlier lines, found 2"),
        ("a\n", "t.txt:1: missing tag: a token with no tag column"),
        (b"a B-PER\n\xff O\n", "t.txt:2: invalid UTF-8 byte 0xff at column 1"),
        ("", "t.txt:1: no sentences found"),
    ],
)
def test_malformed_conll_names_file_and_line(tmp_path: Path, content: str | bytes, message: str) -> None:
    path = tmp_path / "t.txt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(CorpusError) as err:
        read_corpus(path)
    assert str(err.value).endswith(message)
    assert str(err.value).startswith(str(tmp_path))


def test_malformed_conllu(tmp_path: Path) -> None:
    path = tmp_path / "t.conllu"
    path.write_text("1\tI\tI\tPRON\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"t.conllu:1: expected 10 tab-separated columns, found 4"):
        read_corpus(path, "conllu")
    path.write_text(
        "# c\n1\tI\tI\tPRON\tPRP\t_\t0\troot\t_\t_\n2\tam\tbe\t_\tVBP\t_\t0\troot\t_\t_\n", encoding="utf-8"
    )
    with pytest.raises(CorpusError, match=r"t.conllu:3: missing UPOS tag for token 'am'"):
        read_corpus(path, "conllu")


def test_a_missing_file_or_a_directory_says_which() -> None:
    with pytest.raises(TaggerError) as missing:
        read_corpus("/nonexistent/file.txt")
    assert str(missing.value) == "/nonexistent/file.txt: no such file"
    with pytest.raises(TaggerError) as directory:
        read_corpus("/tmp")
    assert str(directory.value) == "/tmp: is a directory, not a corpus file"


def test_check_scheme_points_at_the_line(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("a O\nb I-PER\n\nc B-LOC\n", encoding="utf-8")
    assert check_scheme(read_corpus(path), TagScheme.IOB2) == [f"{path}:2: I-PER cannot follow O in IOB2"]
