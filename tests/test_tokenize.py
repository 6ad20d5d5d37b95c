"""Tests for ``tagger.tokenize``: corpus conventions, sentence splitting, offset invariants.

The expected tokens follow the training corpora (CoNLL-2003 / UD English EWT, Penn
Treebank style). The invariant tests guard what the service relies on for any input:
``text[t.start:t.end] == t.text``, tokens in order, non-overlapping, non-empty, with
no whitespace or zero-width separators inside.
"""

from __future__ import annotations

import re
import sys
import time

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tagger.tokenize import Token, explain, split_sentences, tokenize, tokenize_words

# Zero-width space/non-joiner/joiner, word joiner, BOM, and the bidirectional marks,
# embeddings and isolates (LRM, RLM, ALM, U+202A-U+202E, U+2066-U+2069).
SEPARATORS = "\u200b\u200c\u200d\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"
_DROPPED = re.compile(rf"[\s{SEPARATORS}\x00-\x1f\x7f-\x9f]")


def words(text: str) -> list[str]:
    return [t.text for t in tokenize_words(text)]


def sentences(text: str) -> list[list[str]]:
    return [[t.text for t in sent] for sent in tokenize(text)]


def check_invariants(text: str, tokens: list[Token]) -> None:
    """The offset contract, plus coverage: only separators and control characters are dropped."""
    prev_end = 0
    for tok in tokens:
        assert tok.text, tok
        assert text[tok.start : tok.end] == tok.text, tok
        assert prev_end <= tok.start < tok.end, tok
        assert not any(ch.isspace() or ch in SEPARATORS for ch in tok.text), tok
        prev_end = tok.end
    assert "".join(t.text for t in tokens) == _DROPPED.sub("", text)


# --- corpus conventions ------------------------------------------------------------------
# Expected tokens are written space-separated (no expected token contains a space).

EXPECTED = [
    # punctuation split off
    ("Paris.", "Paris ."),
    ('"Hello," she said.', '" Hello , " she said .'),
    ("The team (Leicestershire) won [again]; fine: yes?", "The team ( Leicestershire ) won [ again ] ; fine : yes ?"),
    # clitics, straight and typographic apostrophes
    ("John's dog doesn't bark and I can't hear it.", "John 's dog does n't bark and I ca n't hear it ."),
    (
        "I'm sure they'll say we're fine, you've seen it, he'd go.",
        "I 'm sure they 'll say we 're fine , you 've seen it , he 'd go .",
    ),
    ("Don’t worry, it’s John’s.", "Do n’t worry , it ’s John ’s ."),
    (
        "The players' union met O'Neill in rock'n'roll's home.",
        "The players ' union met O'Neill in rock'n'roll 's home .",
    ),
    ("I cannot, I'm gonna, dont.", "I can not , I 'm gon na , do nt ."),
    # URLs and e-mail addresses stay whole, trailing punctuation does not
    ("See https://example.com/a?b=1, or www.x.org.", "See https://example.com/a?b=1 , or www.x.org ."),
    ("Mail jane.doe+news@example.co.uk (or @bob) today.", "Mail jane.doe+news@example.co.uk ( or @bob ) today ."),
    # numbers, dates, times, signs
    (
        "It rose 3.14% to 1,000,000 at 10:30 on 1996-08-22, down -5 from $20.",
        "It rose 3.14 % to 1,000,000 at 10:30 on 1996-08-22 , down -5 from $ 20 .",
    ),
    # abbreviations and initials keep their period
    (
        "Mr. and Mrs. Smith met Dr. J. Jones of Acme Inc. in the U.S. on Sept. 3, e.g. today.",
        "Mr. and Mrs. Smith met Dr. J. Jones of Acme Inc. in the U.S. on Sept. 3 , e.g. today .",
    ),
    # ...except at the very end of the text, where the corpora split the period off
    ("He works for Acme Corp.", "He works for Acme Corp ."),
    # hyphenated words stay whole (CoNLL convention)
    ("A well-known, state-of-the-art design by al-Ani.", "A well-known , state-of-the-art design by al-Ani ."),
    # ellipses and repeated punctuation are one token
    ("Wait... what?! No!!! -- really", "Wait ... what ?! No !!! -- really"),
    # emoji (with skin tone / emoji presentation selector), emoticons, flags, symbols: own tokens
    (
        "Great job\U0001f44d\U0001f3fd\u2764\ufe0f 🇩🇪 :) © 2024",
        "Great job \U0001f44d\U0001f3fd \u2764\ufe0f 🇩🇪 :) © 2024",
    ),
    # CJK: one token per ideograph, kana runs whole
    ("東京に行きました。", "東 京 に 行 きました 。"),
    # combining marks stay inside their word; zero-width characters separate
    ("cafe\u0301 na\u00efve x\u200by", "cafe\u0301 na\u00efve x y"),
]


@pytest.mark.parametrize(("text", "expected"), EXPECTED, ids=[t[:24] for t, _ in EXPECTED])
def test_expected_tokens(text: str, expected: str) -> None:
    tokens = tokenize_words(text)
    assert [t.text for t in tokens] == expected.split()
    check_invariants(text, tokens)


def test_offsets_are_string_indices() -> None:
    text = "Hi 👋 café, John's."
    assert tokenize_words(text) == [
        Token("Hi", 0, 2),
        Token("👋", 3, 4),
        Token("café", 5, 9),
        Token(",", 9, 10),
        Token("John", 11, 15),
        Token("'s", 15, 17),
        Token(".", 17, 18),
    ]


def test_token_is_frozen() -> None:
    tok = Token("a", 0, 1)
    with pytest.raises(AttributeError):
        tok.text = "b"  # type: ignore[misc]


# --- sentence splitting ------------------------------------------------------------------

SPLITS = [
    ("Mr. Smith went to Washington. He left.", ["Mr. Smith went to Washington .", "He left ."]),
    ("U.S. officials met. Then they left.", ["U.S. officials met .", "Then they left ."]),
    ("Is it? Yes! Sure.", ["Is it ?", "Yes !", "Sure ."]),
    ('He said "Stop." Then he left.', ['He said " Stop . "', "Then he left ."]),
    ("It rose 3.5 p.c. in March. 2 more rose.", ["It rose 3.5 p.c. in March .", "2 more rose ."]),
    ("I waited... Then it came.", ["I waited ...", "Then it came ."]),
    ("Wait... what now.", ["Wait ... what now ."]),
    ("J. Smith arrived. lower case stays.", ["J. Smith arrived . lower case stays ."]),
    ("Done.(Really) no.", ["Done . ( Really ) no ."]),
    ("first line\n\nsecond line", ["first line", "second line"]),
    ("first\r\n \r\nsecond", ["first", "second"]),
    ("one\ntwo", ["one two"]),
    ("東京です。大阪です。", ["東 京 です 。", "大 阪 です 。"]),
]


@pytest.mark.parametrize(("text", "expected"), SPLITS, ids=[t[:24] for t, _ in SPLITS])
def test_sentence_splitting(text: str, expected: list[str]) -> None:
    assert sentences(text) == [sent.split() for sent in expected]


@pytest.mark.parametrize("text", ["", " ", "\n\n", "\t\r\n ", "\u200b\ufeff\u2060", "\x00\x1f"])
def test_empty_or_blank_input(text: str) -> None:
    assert tokenize(text) == []
    assert tokenize_words(text) == []


def test_split_sentences_on_given_tokens() -> None:
    text = "A b. C d."
    tokens = tokenize_words(text)
    assert split_sentences(text, tokens) == [tokens[:3], tokens[3:]]
    assert split_sentences(text, []) == []


# --- invariants --------------------------------------------------------------------------

AWKWARD = [
    "",
    " ",
    "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2028\u2029\u3000",
    "\u200b",
    "a\u200bb\u200cc\u200dd\u2060e\ufefff",
    "\x00",
    "a\x00b\x7fc\x9fd",
    "\ud800",
    "a\ud800b\udfffc",
    "\udfff\ud800's",
    "e\u0301",
    "\u0301",
    "\u0301abc \u20e3",
    "हिन्दी",
    "👨\u200d👩\u200d👧\u200d👦",
    "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
    "🇺🇸🇬🇧🇩",
    "1\ufe0f\u20e3",
    "line\r\nline\r\n\r\nnext",
    "don't'",
    "''",
    "'s",
    "n't",
    "n'tn't",
    "...",
    "U.S.",
    "http://",
    "http://a\x00b",
    "www.",
    "@",
    "a@b",
    "#",
    "--",
    "-.5",
    "+.",
    ":)",
    "Mr.",
    'Inc."',
    "1.\n2. x",
    "\ufffd\uffff\U0010ffff",
    "ℌ ǅ ﬁ",
    "-" * 500,
    "a" * 5000,
    "." * 500,
    "a-" * 300,
    "x'" * 300,
    "東" * 50 + "ひらがな" * 10,
]


@pytest.mark.parametrize("text", AWKWARD, ids=[ascii(t)[:24] for t in AWKWARD])
def test_invariants_on_awkward_strings(text: str) -> None:
    tokens = tokenize_words(text)
    check_invariants(text, tokens)
    assert [t for sent in tokenize(text) for t in sent] == tokens


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_invariants_property(text: str) -> None:
    tokens = tokenize_words(text)
    check_invariants(text, tokens)
    sents = tokenize(text)
    assert all(sents)
    assert [t for sent in sents for t in sent] == tokens


_AWKWARD_CHARS = list(
    "aZ09 .,'’\"-_@#/:;!?()\t\n\r\x00\x1f\x7f\u0301\u20e3\ufe0f\u200b\u200c\u200d\u2060\ufeff\ud800\udfff"
    "\u200e\u061c\u202b\u202e\u2066\u2069東ひ👍🏽🇩🇪é\U000e0067"
)


_SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=())


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from(_AWKWARD_CHARS) | _SURROGATES | st.characters(exclude_categories=())))
@example("\u2066")  # CI's find: a lone isolate is a separator, dropped
@example("a\u200fb\u202a")
def test_invariants_property_awkward_alphabet(text: str) -> None:
    """Like above, but dense in separators, marks, controls, emoji parts and lone surrogates."""
    tokens = tokenize_words(text)
    check_invariants(text, tokens)
    assert [t for sent in tokenize(text) for t in sent] == tokens


def test_regex_whitespace_matches_str_isspace() -> None:
    r"""The separator class relies on ``\s`` being exactly ``str.isspace``."""
    space = re.compile(r"\s")
    mismatches = [cp for cp in range(sys.maxunicode + 1) if bool(space.match(chr(cp))) != chr(cp).isspace()]
    assert mismatches == []


def test_explain_names_the_rule() -> None:
    assert [(t.text, rule) for t, rule in explain("Mr. Lee's site www.x.org *** ok")] == [
        ("Mr.", "abbreviation"),
        ("Lee", "word"),
        ("'s", "clitic"),
        ("site", "word"),
        ("www.x.org", "url"),
        ("***", "punct_run"),
        ("ok", "word"),
    ]


# Long runs of what rules scan for: each would make a rule with an unbounded scan from
# every position (or a backtracking look-ahead) quadratic in the length.
ADVERSARIAL_UNITS = [" ", ".", "+", "@", "-", "1", "a+", "a@", "a-", "a.", "Mr. ", "www.", "A. ", "'", "aé東カ١ "]
ADVERSARIAL_EDGES = ["", "Mr.", "No.", "a", "www.", "@", "#", "x", "Inc.", "'"]


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(ADVERSARIAL_EDGES),
    st.one_of(st.sampled_from(ADVERSARIAL_UNITS), st.text(min_size=1, max_size=3)),
    st.sampled_from(ADVERSARIAL_EDGES),
)
def test_tokenizing_adversarial_text_takes_linear_time(head: str, unit: str, tail: str) -> None:
    """50,000 characters take milliseconds when linear and tens of seconds when
    quadratic: the bound leaves room for a slow, busy machine and none for n squared."""
    text = head + unit * (50_000 // len(unit)) + tail
    started = time.perf_counter()
    tokens = [t for s in tokenize(text) for t in s]
    assert time.perf_counter() - started < 3.0
    assert all(text[t.start : t.end] == t.text for t in tokens[:100])


# The third: word runs without a token in them, each of which a scan from its start
# would search to the end of the text.
@pytest.mark.parametrize("text", ["Mr." + " " * 99_990 + "x", "a+" * 50_000, "x. " + "\x00 " * 50_000])
def test_the_reported_quadratic_inputs_are_fast(text: str) -> None:
    started = time.perf_counter()
    tokenize(text)
    assert time.perf_counter() - started < 3.0  # 76.7 s for the first before the fix


def _one_scan(text: str) -> list[Token]:
    """The rules run once over the whole text (``explain`` does that, naming each rule)."""
    return [token for token, _ in explain(text)]


_WORDISH = st.sampled_from(
    [
        "cannot",
        "CANNOT",
        "gonna",
        "dont",
        "Im",
        "im",
        "Ive",
        "IM",
        "thats",
        "whats",
        "its",
        "Mr",
        "Mr.",
        "U.S",
        "J.",
        "No.",
        "1.",
        "12",
        "1,000",
        "US$",
        "b/c",
        "w/",
        "don't",
        "O'Neill",
        "x@y.com",
        "www.x.org",
        "#tag",
        "-5",
        "Smith",
        "SMITH",
        "etc",
        "etc.",
        "e.g.",
        "Corp.",
        "a",
        "I",
        "cafe\u0301",
        "na",
        "\u200b",
        "東京",
        ".",
        ",",
        "'",
    ]
)
_GAPS = st.sampled_from([" ", "  ", "\n", "\n\n", "\t", "\u00a0", "", "\u2029"])


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(_WORDISH | st.text(st.sampled_from(_AWKWARD_CHARS), max_size=4), _GAPS), max_size=12))
def test_the_fast_path_for_plain_words_tokenizes_as_one_scan_of_the_rules(parts: list[tuple[str, str]]) -> None:
    text = "".join(word + gap for word, gap in parts)
    assert tokenize_words(text) == _one_scan(text)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_the_fast_path_agrees_with_one_scan_on_any_text(text: str) -> None:
    assert tokenize_words(text) == _one_scan(text)


def test_the_fast_path_agrees_with_one_scan_on_the_corpora() -> None:
    from tests.conftest import DATASETS

    path = DATASETS / "conll2003" / "valid.txt"
    if not path.exists():
        pytest.skip(f"{path} is not there")
    lines = path.read_text(encoding="utf-8").splitlines()[:20000]
    words = [line.split(" ", 1)[0] for line in lines if line and not line.startswith("-DOCSTART-")]
    text = " ".join(words)
    assert tokenize_words(text) == _one_scan(text)


def test_a_soft_hyphen_stays_inside_its_word() -> None:
    text = "Angela Mer\u00adkel visited Pa\u00adris."
    assert [t.text for t in tokenize_words(text)] == ["Angela", "Mer\u00adkel", "visited", "Pa\u00adris", "."]


@pytest.mark.parametrize("mark", ["\u200e", "\u200f", "\u061c", "\u202a", "\u202e", "\u2066", "\u2069"])
def test_bidirectional_marks_are_never_tokens(mark: str) -> None:
    text = f"{mark}Paris{mark} and {mark}Berlin"
    tokens = tokenize_words(text)
    assert [t.text for t in tokens] == ["Paris", "and", "Berlin"]
    assert all(text[t.start : t.end] == t.text for t in tokens)
