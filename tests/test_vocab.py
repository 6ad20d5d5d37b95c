from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import torch

from tagger.errors import CorpusError, TaggerError
from tagger.vocab import CASINGS, PAD, UNCASED, UNK, Vocab, build_vocab, casing, read_vectors, sentence_casings


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("apple", "lower"),
        ("APPLE", "upper"),
        ("U.S.", "upper"),
        ("A", "upper"),
        ("Apple", "title"),
        ("1984", "numeric"),
        ("12a", "mostly_numeric"),
        ("3.14", "mostly_numeric"),
        ("a1b", "has_digit"),
        ("12ab", "has_digit"),  # exactly half digits is not "mostly"
        ("iPhone", "mixed"),
        (",", "other"),
        ("-", "other"),
        ("", "other"),
    ],
)
def test_casing(token: str, expected: str) -> None:
    assert CASINGS[casing(token)] == expected


def test_casing_pad_is_zero() -> None:
    assert CASINGS[0] == "pad"
    assert all(casing(t) != 0 for t in ["a", "A", "1", ",", "Ab", "aB", "a1"])


@pytest.fixture
def vocab() -> Vocab:
    return Vocab(words=[PAD, UNK, "apple", "0000", "00.0"], chars=[PAD, UNK, "a", "p"], labels=["B-X", "O"])


def test_word_id_lowercases(vocab: Vocab) -> None:
    assert vocab.word_id("apple") == 2
    assert vocab.word_id("Apple") == 2
    assert vocab.word_id("APPLE") == 2


def test_word_id_digits_fall_back_to_zeros(vocab: Vocab) -> None:
    assert vocab.word_id("1984") == 3
    assert vocab.word_id("12.5") == 4


def test_word_id_exact_form_wins_over_digit_fallback() -> None:
    v = Vocab(words=[PAD, UNK, "1984", "0000"], chars=[PAD, UNK], labels=["O"])
    assert v.word_id("1984") == 2
    assert v.word_id("2001") == 3


def test_word_id_unknown_is_one(vocab: Vocab) -> None:
    assert vocab.word_id("banana") == 1
    assert vocab.word_id("12345") == 1


def test_word_id_without_lowercasing() -> None:
    v = Vocab(words=[PAD, UNK, "Apple", "apple"], chars=[PAD, UNK], labels=["O"], lowercase=False)
    assert v.word_id("Apple") == 2
    assert v.word_id("apple") == 3
    assert v.word_id("APPLE") == 1


def test_token_ids(vocab: Vocab) -> None:
    assert vocab.token_ids("Apple", 32) == (2, CASINGS.index("title"), [1, 3, 3, 1, 1])
    assert vocab.token_ids("apple", 2) == (2, CASINGS.index("lower"), [2, 3])
    assert vocab.token_ids("1984", 32) == (3, CASINGS.index("numeric"), [1, 1, 1, 1])
    # An empty token still has one (unknown) character, so the char encoder sees something.
    assert vocab.token_ids("", 32) == (1, CASINGS.index("other"), [1])


def test_token_ids_memoised_result_is_stable(vocab: Vocab) -> None:
    first = vocab.token_ids("apple", 32)
    assert vocab.token_ids("apple", 32) == first
    assert vocab.token_ids("apple", 3) == (2, CASINGS.index("lower"), [2, 3, 3])


def test_label_ids(vocab: Vocab) -> None:
    assert vocab.label_ids(["O", "B-X", "O"]) == [1, 0, 1]


def test_json_round_trip(vocab: Vocab) -> None:
    data = json.loads(json.dumps(vocab.to_json()))
    assert data == {"words": vocab.words, "chars": vocab.chars, "labels": vocab.labels, "lowercase": True}
    again = Vocab.from_json(data)
    assert again == vocab
    assert again.word_index == vocab.word_index
    assert again.char_index == vocab.char_index
    assert again.label_index == vocab.label_index


def test_from_json_keeps_lowercase_false_and_defaults_to_true() -> None:
    v = Vocab([PAD, UNK], [PAD, UNK], ["O"], lowercase=False)
    assert Vocab.from_json(v.to_json()).lowercase is False
    assert Vocab.from_json({"words": [PAD, UNK], "chars": [PAD, UNK], "labels": ["O"]}).lowercase is True


# --- build_vocab --------------------------------------------------------------------------------------------------


def test_build_vocab_min_count() -> None:
    tokens = ["The", "the", "cat", "sat", "Sat", "on"]
    v = build_vocab(tokens, ["O", "B-PER", "O"], min_count=2)
    assert v.words == [PAD, UNK, "the", "sat"]
    assert v.labels == ["B-PER", "O"]
    assert v.chars == [PAD, UNK, *sorted(set("".join(tokens)))]  # characters keep their case
    assert build_vocab(tokens, ["O"], min_count=1).words == [PAD, UNK, "the", "sat", "cat", "on"]


def test_build_vocab_keeps_case_when_not_lowercasing() -> None:
    v = build_vocab(["The", "the", "The"], ["O"], min_count=1, lowercase=False)
    assert v.words == [PAD, UNK, "The", "the"]
    assert v.lowercase is False


def test_build_vocab_pretrained_words_first_and_rare_ones_kept() -> None:
    # "paris" appears once (below min_count) but has a pretrained vector: kept.
    v = build_vocab(["Paris", "x", "x"], ["O"], pretrained_words=["the", "of", "paris"], min_count=2)
    assert v.words == [PAD, UNK, "the", "of", "paris", "x"]


def test_build_vocab_max_pretrained() -> None:
    pretrained = ["the", "of", "zurich", "rome", "oslo"]
    v = build_vocab(["Rome"], ["O"], pretrained_words=pretrained, max_pretrained=2, min_count=5)
    # The two most frequent, plus "rome", which the corpus uses; zurich and oslo dropped.
    assert v.words == [PAD, UNK, "the", "of", "rome"]
    kept = build_vocab([], ["O"], pretrained_words=pretrained, max_pretrained=2, keep_words=["Oslo"])
    assert kept.words == [PAD, UNK, "the", "of", "oslo"]
    assert build_vocab([], ["O"], pretrained_words=pretrained, max_pretrained=0).words == [PAD, UNK]


def test_build_vocab_pretrained_duplicates_and_reserved_words() -> None:
    v = build_vocab([], ["O"], pretrained_words=["a", UNK, "a", PAD, "b"], min_count=1)
    assert v.words == [PAD, UNK, "a", "b"]


# --- read_vectors -------------------------------------------------------------------------------------------------

GLOVE = "the 0.1 0.2 0.3\nof -1 2 3.5\ncat 0 0 1e-3\n"


def test_read_vectors_plain(tmp_path: Path) -> None:
    path = tmp_path / "vectors.txt"
    path.write_text(GLOVE, encoding="utf-8")
    words, vectors = read_vectors(path)
    assert words == ["the", "of", "cat"]
    assert vectors.dtype == torch.float32
    assert vectors.shape == (3, 3)
    expected = torch.tensor([[0.1, 0.2, 0.3], [-1.0, 2.0, 3.5], [0.0, 0.0, 1e-3]])
    torch.testing.assert_close(vectors, expected)


def test_read_vectors_gzipped(tmp_path: Path) -> None:
    path = tmp_path / "vectors.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(GLOVE)
    words, vectors = read_vectors(str(path))
    assert words == ["the", "of", "cat"]
    assert vectors[1].tolist() == [-1.0, 2.0, 3.5]


def test_read_vectors_limit(tmp_path: Path) -> None:
    path = tmp_path / "vectors.txt"
    path.write_text(GLOVE, encoding="utf-8")
    words, vectors = read_vectors(path, limit=2)
    assert words == ["the", "of"]
    assert vectors.shape == (2, 3)


def test_read_vectors_skips_word2vec_header(tmp_path: Path) -> None:
    path = tmp_path / "vectors.txt"
    path.write_text("3 3\n" + GLOVE, encoding="utf-8")
    words, vectors = read_vectors(path)
    assert words == ["the", "of", "cat"]
    assert vectors.shape == (3, 3)


def test_read_vectors_crlf_and_trailing_space(tmp_path: Path) -> None:
    path = tmp_path / "vectors.txt"
    path.write_bytes(b"the 1 2 \r\nof 3 4\r\n")
    words, vectors = read_vectors(path)
    assert words == ["the", "of"]
    assert vectors.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_read_vectors_wrong_width_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "vectors.txt"
    path.write_text("3 3\nthe 1 2 3\nof 1 2\n", encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        read_vectors(path)
    assert str(info.value) == f"{path}:3: expected 3 vector values, found 2"
    assert info.value.line == 3
    assert info.value.path == str(path)
    assert isinstance(info.value, TaggerError)


def test_read_vectors_not_a_number(tmp_path: Path) -> None:
    path = tmp_path / "vectors.txt"
    path.write_text("the 1 2\nof 1 x\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"vectors.txt:2: vector value is not a number$"):
        read_vectors(path)


def test_read_vectors_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "vectors.txt"
    path.write_text("", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"vectors.txt:1: no vectors found$"):
        read_vectors(path)


@pytest.mark.parametrize(("line", "value"), [("of 1 nan", "nan"), ("of inf 2", "inf"), ("of 1 -Infinity", "-Infinity")])
def test_read_vectors_refuses_values_that_are_not_finite(tmp_path: Path, line: str, value: str) -> None:
    """A nan or inf vector makes every loss it touches nan: training would save nan weights."""
    path = tmp_path / "vectors.txt"
    path.write_text(f"the 1 2\n{line}\n", encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        read_vectors(path)
    assert str(info.value) == f"{path}:2: vector value {value!r} is not a finite number"


def _vector_error(path: Path) -> str:
    with pytest.raises(TaggerError) as info:
        read_vectors(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


def test_read_vectors_missing_file_or_directory_is_one_line(tmp_path: Path) -> None:
    assert _vector_error(tmp_path / "nope.txt") == f"{tmp_path / 'nope.txt'}: no such vectors file"
    assert _vector_error(tmp_path) == f"{tmp_path}: is a directory, not a vectors file"


def test_read_vectors_fake_gzip_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "vectors.txt.gz"
    path.write_text("the 1 2\n", encoding="utf-8")
    assert _vector_error(path) == f"{path}: not a gzip file (the name ends in .gz)"
    truncated = tmp_path / "cut.txt.gz"
    truncated.write_bytes(gzip.compress(GLOVE.encode() * 50)[:60])
    assert _vector_error(truncated).startswith(f"{truncated}: cannot read the gzip file")


def test_read_vectors_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "vectors.txt"
    path.write_bytes(b"the 1 2\ncaf\xe9 1 2\n")
    assert _vector_error(path) == f"{path}:2: not UTF-8 text (byte 0xe9 at column 4)"


def test_read_vectors_of_words_only_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "vectors.txt"
    path.write_text("the\nof\n", encoding="utf-8")
    assert _vector_error(path) == f"{path}:1: a word without vector values"


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        (["angela", "merkel", "visited", "paris", "."], ["uncased"] * 4 + ["other"]),
        (["EU", "REJECTS", "GERMAN", "CALL", "1996"], ["uncased"] * 4 + ["numeric"]),
        (["Peter", "Blackburn", "said"], ["title", "title", "lower"]),  # case informative: kept
        (["the", "iPhone"], ["lower", "mixed"]),
        (["1996-08-22", "--"], ["mostly_numeric", "other"]),  # no letters: nothing to say
    ],
)
def test_sentence_casings_mark_single_case_sentences(tokens: list[str], expected: list[str]) -> None:
    names = (*CASINGS, "uncased")
    assert len(CASINGS) == UNCASED
    assert [names[c] for c in sentence_casings(tokens, [casing(t) for t in tokens])] == expected


def test_decomposed_and_soft_hyphenated_spellings_are_looked_up_as_the_plain_word() -> None:
    """Text from macOS file names or PDFs is often NFD (e + combining acute) and carries
    soft hyphens; the model must see the word its vocabulary holds."""
    import unicodedata

    vocab = build_vocab(["Müller", "Gómez", "Merkel", "Müller", "Gómez", "Merkel"], ["O"], min_count=1)
    for plain in ("Müller", "Gómez", "Merkel"):
        assert vocab.word_id(plain) > 1
        decomposed = unicodedata.normalize("NFD", plain)
        assert decomposed != plain or plain == "Merkel"
        assert vocab.token_ids(decomposed, 32) == vocab.token_ids(plain, 32)
    assert vocab.token_ids("Mer\u00adkel", 32) == vocab.token_ids("Merkel", 32)
    assert vocab.token_ids("\u00ad", 32)[0] == 1  # a lone soft hyphen is an unknown word, not an empty one
