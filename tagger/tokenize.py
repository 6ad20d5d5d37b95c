"""Raw text to tokens with character offsets, and tokens to sentences.

The models are trained on CoNLL-2003 English and UD English EWT, which are both
tokenized in the Penn Treebank tradition: punctuation is split off words, clitics are
split (``John's`` -> ``John 's``, ``don't`` -> ``do n't``), while URLs, e-mail
addresses, numbers, abbreviations and hyphenated words stay whole. A model only sees
words as the corpus tokenizer cut them, so service text must be cut the same way or
every embedding lookup and every learned suffix feature drifts.

Design
------
All token rules live in ``_RULES``: an ordered list of (name, regex) pairs compiled into
one alternation and run with a single ``finditer`` pass, so there is no per-character
Python code. At each position Python's regex engine tries the alternatives *in list
order* and takes the first that matches (not the longest), so order encodes priority:
URLs before words (``www.x.org`` is not three words), abbreviations before words
(``Mr.`` keeps its period), clitic splits before the general word rule, and a catch-all
single character last, so every other character ends up in some token. Characters no
rule matches (whitespace, zero-width separators, C0/C1 control characters) are skipped;
they never appear inside a token. Offsets are ``Match.start()/end()``, i.e. Python string
indices into the original text, so ``text[t.start:t.end] == t.text`` holds for any
input, including lone surrogates and unnormalised Unicode. The names only serve
``explain`` (which rule made which token); the production pattern wraps no group around
the alternatives, which keeps the engine's cheap first-character test of each working.

Word characters are ``\\w`` minus CJK, plus combining marks (collected once at import
from ``unicodedata``), so ``e\\u0301`` or Devanagari vowel signs stay in their word. CJK
ideographs are cut one per token (like BERT's basic tokenizer) and kana into runs,
because those scripts do not separate words with spaces.

Conventions where the corpora disagree (measured by ``benchmarks/tokenizer_fidelity.py``;
figures in ``benchmarks/results/``): hyphenated words stay whole as in CoNLL, although
EWT splits most of them (``15 - year``); splitting them gains a little EWT token F1 but
costs many more CoNLL sentences that no longer round-trip unchanged. Abbreviations keep
their period (``Inc.``) except at the very end of the text, where both corpora split it
off (``Acme Corp .``).

Sentence splitting (``split_sentences``) is a deliberately small rule on top of the
tokens; see its docstring.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["CONTROL_CLASS", "SEPARATOR_CLASS", "Token", "explain", "split_sentences", "tokenize", "tokenize_words"]


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its text and its ``[start, end)`` span as Python string indices."""

    text: str
    start: int
    end: int


# --------------------------------------------------------------------------------------
# Character classes (contents of ``[...]``, without brackets)
# --------------------------------------------------------------------------------------

# Separators: everything ``str.isspace`` accepts (``\s`` in a ``str`` pattern is the same
# set) plus zero-width space / non-joiner / joiner, word joiner and BOM, and the
# bidirectional marks, embeddings and isolates (LRM, RLM, ALM, U+202A-U+202E,
# U+2066-U+2069) that right-to-left text and copy-paste leave around words: all are
# invisible and would otherwise glue words together or become tokens of their own.
_SEP = r"\s\u200b-\u200f\u061c\u202a-\u202e\u2060\u2066-\u2069\ufeff"

# C0/C1 control characters that are not whitespace: dropped, never a token.
_CTRL = r"\x00-\x1f\x7f-\x9f"
SEPARATOR_CLASS, CONTROL_CLASS = _SEP, _CTRL  # for ``tagger.io.validate``: what no token begins or ends with

# Ideographs are cut one per token, kana in runs (see module docstring).
_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff"
_KANA = r"\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"

# Modifiers that belong to the preceding symbol: emoji skin tones, variation selectors
# (text/emoji presentation), the combining keycap and emoji tag characters (subdivision
# flags). ZWJ is a separator by contract, so ZWJ emoji sequences become several tokens.
_EMOJI_MOD = r"\U0001f3fb-\U0001f3ff\ufe0e\ufe0f\u20e3\U000e0020-\U000e007f"


def _class_from(codepoints: Iterable[int]) -> str:
    """Compress sorted code points into regex class ranges (``\\uXXXX-\\uYYYY``)."""
    parts: list[str] = []
    start = prev = -2
    for cp in codepoints:
        if cp == prev + 1:
            prev = cp
            continue
        if start >= 0:
            parts.append(_range(start, prev))
        start = prev = cp
    if start >= 0:
        parts.append(_range(start, prev))
    return "".join(parts)


def _range(lo: int, hi: int) -> str:
    def esc(cp: int) -> str:
        return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"

    return esc(lo) if lo == hi else f"{esc(lo)}-{esc(hi)}"


def _mark_codepoints() -> list[int]:
    """Code points of combining marks (Unicode categories Mn, Mc, Me).

    Only planes 0-1 and the variation-selector block of plane 14 hold marks, so only
    those ~130k code points are scanned: a few tens of milliseconds, once, at import.
    """
    return [
        cp for cp in itertools.chain(range(0x20000), range(0xE0100, 0xE01F0)) if unicodedata.category(chr(cp))[0] == "M"
    ]


_MARKS = _class_from(_mark_codepoints())  # combining marks (class contents)

# One word character: ``\w`` (letters, digits, ``_``) minus CJK, a combining mark, or a
# soft hyphen (U+00AD, an invisible hyphenation point that word processors and PDFs
# leave inside words: ``Mer\u00adkel`` is one word, looked up as ``Merkel``).
# Boundary checks use plain ``\w``: they only differ next to a mark or CJK character,
# and repeating the mark class in every lookaround would make the pattern slow to compile.
_WORD = f"(?:[^\\W{_HAN}{_KANA}]|[{_MARKS}\u00ad])"
_NOT_AFTER_WORD = r"(?<!\w)"
_NOT_BEFORE_WORD = r"(?!\w)"
_APOS = "'’ʼ"
_CLITIC = f"(?i:[{_APOS}](?:s|m|d|ll|re|ve)|n[{_APOS}]t)"  # 's 'm 'd 'll 're 've n't

# Abbreviations that keep their period, in title case; the ALL-CAPS form (``CORP.``,
# common in headlines) is added automatically. Case-sensitive on purpose: ``Co.`` is a
# company but ``co.`` ending a sentence is not an abbreviation.
_ABBREVIATION_GROUPS = (
    # titles
    "Mr Mrs Ms Messrs Dr Drs Prof Rev Hon Sr Jr St Sts Gen Gov Sen Rep Col Capt Lt Sgt Maj Adm Cmdr Pres Supt Pvt Fr",
    # organisations, addresses, months
    "Inc Ltd Corp Co Bros Assn Dept Univ Ave Blvd Rd Mt Ft Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec",
    # US states as written in newswire datelines
    "Ala Ariz Ark Calif Colo Conn Fla Ga Ill Ind Kan Ky Md Mich Minn Miss Mo Neb Nev Okla Ore Pa Tenn Tex Va Vt Wis",
    # lower-case Latin and technical abbreviations
    "etc vs approx ext cf viz esp incl misc fig vol pp",
)
ABBREVIATIONS = frozenset(
    variant for group in _ABBREVIATION_GROUPS for word in group.split() for variant in (word, word.upper())
)
_ABBREV_ALT = "|".join(sorted(ABBREVIATIONS))

# Words PTB/EWT split although they contain no apostrophe: ``cannot`` -> ``can not``,
# ``gonna`` -> ``gon na``, and contractions whose apostrophe informal text drops
# (``dont`` -> ``do nt``, ``im`` -> ``i m``, ``thats`` -> ``that s``). A closed list,
# because ``nt`` or ``s`` are ordinary word endings; ambiguous words (``its``, ``ill``,
# ``lets``, ``your``) are left alone.
_SPLIT_STEMS = (
    r"(?i:can(?=not(?!\w))|(?:gon|wan)(?=na(?!\w))|(?:got|out)(?=ta(?!\w))"
    r"|(?:do|does|did|is|was|were|are|has|have|had|could|would|should|must|need|ca|wo|ai)(?=nt(?!\w))"
    r"|(?:that|what)(?=s(?!\w)))"
    r"|[Ii](?=(?:m|ve)(?!\w))"
)

# Inside a word: hyphens; apostrophes that do not start a clitic (``O'Neill``,
# ``rock'n'roll``) or that pluralise a number (``the 1990's``, as EWT); dots between
# word characters (``alt.animals.cat``, ``3.14``, ``TEXT.htm``) unless a capitalised
# word follows, which is a missing space after a sentence (``sushi.They``); ``, : /``
# between digits (``1,000``, ``10:30``, ``08/16/2000``). ``W++`` is possessive: a joiner
# is never a word character, so giving characters back could never help, only cost time.
_JOINER = rf"(?:[-‐‑]|\.(?![A-Z][a-z])|(?!{_CLITIC}(?!\w))[{_APOS}]|(?<=\d)[{_APOS}](?=s(?!\w))|(?<=\d)[,:/](?=\d))"
_WORD_BODY = rf"{_WORD}++(?:{_JOINER}{_WORD}++)*"

# The token rules, in priority order: name, pattern. At each position the first rule
# that matches wins. Most rules start with a literal or a character class so that the
# regex engine can skip them after looking at one character; rules that could start in
# the middle of a word only matter right after a split (``do|n't``, ``can|not``).
_RULES: list[tuple[str, str]] = [
    # URLs with a scheme or www., up to whitespace; trailing punctuation is left out so
    # ``see www.x.org.`` ends with a period token.
    ("url", rf"(?:https?://|ftp://|www\.)[^{_SEP}{_CTRL}<>\"]*[^{_SEP}{_CTRL}<>\"'.,;:!?)\]}}]"),
    # E-mail addresses, including Usenet-masked ones (``franz371...@gmail.com``). The
    # local part is bounded (RFC 5321 allows 64 characters), so the scan for ``@`` from
    # each position costs a constant: unbounded, ``a+a+a+...`` rescans to its end from
    # every ``a`` and tokenizing takes time quadratic in the length.
    ("email", r"\w[\w.+%'-]{0,63}+@\w[\w-]*(?:\.[\w-]+)*"),
    # @handles, bare ``@domain.com`` and #hashtags (``#1`` is ``#`` + number, as in EWT).
    ("handle", rf"@{_WORD}++(?:[.-]{_WORD}++)*|#(?=[^\W\d_]){_WORD}++"),
    # Known abbreviations (``Mr.``, ``Inc.``, ``etc.``); ``No.`` only before a number. At
    # the very end of the text the period is split off instead, because both corpora
    # let the sentence-final period absorb the abbreviation's (``Acme Corp .``).
    # The end-of-text look-ahead is possessive: whitespace and closers are disjoint, so
    # giving characters back can never help, and backtracking through a long run of
    # spaces from each split point was quadratic.
    ("abbreviation", rf"(?:(?:{_ABBREV_ALT})\.|No\.(?=\s*+\d))(?![a-z0-9_])(?!\s*+[\"'”’)\]]*+\s*+\Z)"),
    # Dotted acronyms: ``U.S.``, ``e.g.``, ``a.m.``, ``P.S.``, ``U.S`` without the last
    # period, and with a hyphenated tail (``U.S.-led``).
    ("acronym", r"[A-Za-z](?:\.[A-Za-z])+\.?(?:-[A-Za-z]+)*(?![a-z0-9_])"),
    # Single-letter initials before a capitalised word: ``J. Smith``.
    ("initial", r"[A-Z]\.(?=[^\S\n]+[A-Z])"),
    # Numbered-list markers at the start of a line: ``1. Marcel Wust``.
    ("list_marker", r"(?<![^\n])\d{1,3}\.(?=[^\S\n])"),
    # Currency prefixes glued to ``$``: ``US$``, ``C$``.
    ("currency", r"(?:US|C|A|HK|NZ|S|NT)\$"),
    # Letter/letter shorthands of informal text, whole as in EWT: ``b/c``, ``w/o``, ``w/``.
    ("slash_abbrev", r"[A-Za-z]/[A-Za-z](?!\w)|[Ww]/(?!\S)"),
    # A word that ends in n't: ``do``|``n't``, ``ca``|``n't``. The possessive lookahead
    # rejects words without an apostrophe after one scan.
    ("nt_stem", rf"[A-Za-z](?=[A-Za-z]*+[{_APOS}])[A-Za-z]*(?=(?i:n[{_APOS}]t)(?!\w))"),
    # cannot / gonna / dont / im / thats, first part.
    ("split_stem", _SPLIT_STEMS),
    # Clitics: 's 'm 'd 'll 're 've n't. The word rule stops in front of them.
    ("clitic", rf"{_CLITIC}(?!\w)"),
    # Second part of cannot / gonna / dont / im / thats.
    ("split_tail", r"(?<=\w)(?:(?i:not|na|ta|nt|s)|m|ve)(?!\w)"),
    # Signed or leading-dot numbers at a token start: ``-5``, ``+44``, ``.496``.
    ("signed_number", rf"(?:[+-]\.?|\.)(?=\d){_WORD_BODY}"),
    # Words, numbers, hyphenated compounds, dotted names.
    ("word", _WORD_BODY),
    # CJK: one ideograph per token, kana runs whole.
    ("han", f"[{_HAN}]"),
    ("kana", f"[{_KANA}]+"),
    # Emoticons, only when not glued to a following word (``Note:Delivery``).
    ("emoticon", r"(?:[:;=][-^o']?[)(\]\[DPp/\\|]|<3)(?!\w)"),
    # Ellipses and repeated punctuation stay one token: ``...``, ``!!``, ``?!``, ``--``.
    ("punct_run", r"\.{2,}|…+|[!?]{2,}|-{2,}|(?P<rc>[*=_~+<>#$\\/`'^])(?P=rc)+"),
    # Regional-indicator pairs are flags.
    ("flag", r"[\U0001f1e6-\U0001f1ff]{2}"),
    # Anything else (punctuation, symbols, emoji, lone surrogates) is one character,
    # with any modifiers or marks that follow it.
    ("symbol", rf"[^{_SEP}{_CTRL}][{_EMOJI_MOD}{_MARKS}]*"),
]

# The production pattern has no group around each alternative: a group in front would
# defeat the engine's one-character pre-check of alternatives, a large slowdown.
# ``punct_run`` holds the only group, for its back-reference.
_TOKEN_RE = re.compile("|".join(pattern for _, pattern in _RULES))


@functools.cache
def _named_token_re() -> re.Pattern[str]:
    """The same rules with one named group each, for ``explain``."""
    return re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in _RULES))


_CHUNK_RE = re.compile(r"\S+")
_SPLIT_STEM_RE = re.compile(_SPLIT_STEMS)


def tokenize_words(text: str) -> list[Token]:
    """Tokenize ``text`` without sentence splitting.

    Every token satisfies ``text[t.start:t.end] == t.text``; tokens are non-empty, in
    order, non-overlapping and never contain whitespace or zero-width separators.

    Most words of running text are a run of ASCII letters or digits between spaces, which
    every rule above but ``split_stem`` leaves whole (the others need a character that is
    not a letter or digit, or a word character before them), so such a run is taken as it
    is and only the other runs go through the rules: half the time on news text. Tokens
    never cross whitespace, so running the rules from a run's start finds what one scan
    of the whole text finds there (tests compare the two on random text).
    """
    tokens: list[Token] = []
    append = tokens.append
    # Where the rules match next, as the scan of an earlier run found it: runs before it
    # hold no token. Without this, runs with no token in them (control characters) would
    # each be searched to the end of the text, in quadratic time.
    ahead: re.Match[str] | None = None
    ahead_start = -1
    for chunk in _CHUNK_RE.finditer(text):
        word, start, end = chunk[0], chunk.start(), chunk.end()
        if word.isascii() and word.isalnum() and _SPLIT_STEM_RE.match(word) is None:
            append(Token(word, start, end))
            continue
        if ahead_start >= end:
            continue
        matches: Iterable[re.Match[str]]
        if ahead is not None and ahead_start >= start:
            matches = itertools.chain((ahead,), _TOKEN_RE.finditer(text, ahead.end()))
        else:
            matches = _TOKEN_RE.finditer(text, start)  # lookbehinds still see the text before
        ahead, ahead_start = None, len(text)
        for m in matches:
            if m.start() >= end:
                ahead, ahead_start = m, m.start()
                break
            append(Token(m[0], m.start(), m.end()))
    return tokens


def explain(text: str) -> list[tuple[Token, str]]:
    """Each token with the name of the rule that produced it (for debugging rules)."""
    return [(Token(m[0], m.start(), m.end()), m.lastgroup or "") for m in _named_token_re().finditer(text)]


# --------------------------------------------------------------------------------------
# Sentence splitting
# --------------------------------------------------------------------------------------

_TERMINALS = ".!?…"  # a token made only of these ends a sentence
_CJK_TERMINALS = frozenset({"。", "！", "？", "｡"})
_CLOSERS = frozenset({'"', "'", "”", "’", "»", "›", ")", "]", "}", "''"})
_OPENERS = frozenset("\"'“‘«‹([{¿¡`")
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n|\u2029")


def split_sentences(text: str, tokens: list[Token]) -> list[list[Token]]:
    """Group ``tokens`` (from ``tokenize_words(text)``) into sentences.

    A sentence ends

    * after a token made only of ``. ! ? …`` (so ``.``, ``?!``, ``...``), together with
      any closing quotes or brackets glued to it, when a gap (whitespace) and then a
      token starting with an upper-case letter, a digit or an opening quote/bracket
      follow: ``He left. She stayed.`` but not ``3.5 p.c. rise`` or ``wait... what``;
    * after ``。！？`` whatever follows (CJK text has no spaces between sentences);
    * at a blank line (two newlines with only whitespace between) or U+2029, always.

    Abbreviations and initials never end a sentence because the tokenizer keeps their
    period inside the token (``Mr.``, ``U.S.``, ``J.``), so they are not terminals. The
    price is that a sentence really ending in ``Inc.`` is merged with the next one;
    both training corpora come sentence-split, so this only affects raw service text.

    One pass over the tokens. Blank lines are found by one regex scan of the text up
    front; per token the loop then only compares integers and looks at the token text.
    """
    sentences: list[list[Token]] = []
    current: list[Token] = []
    # Blank lines hold only whitespace, so each lies entirely in some gap between tokens.
    breaks = [m.start() for m in _BLANK_LINE.finditer(text)] if "\n" in text or "\u2029" in text else []
    breaks.append(len(text) + 1)  # sentinel: beyond every token
    b = 0
    next_break = breaks[0]
    pending = False  # a terminal (and maybe closers) was seen; decide at the next token
    prev_end = 0
    for tok in tokens:
        word = tok.text
        start = tok.start
        if next_break < start:  # a blank line lies before this token
            while breaks[b] < start:
                b += 1
            next_break = breaks[b]
            if current:
                sentences.append(current)
                current = []
        elif pending:
            if start == prev_end:
                if word in _CLOSERS:  # glued closing quote/bracket stays with the terminal
                    current.append(tok)
                    prev_end = tok.end
                    continue
            else:
                first = word[0]
                if first.isupper() or first.isdigit() or first in _OPENERS:
                    sentences.append(current)
                    current = []
        current.append(tok)
        prev_end = tok.end
        if word in _CJK_TERMINALS:
            sentences.append(current)
            current = []
            pending = False
        else:
            pending = not word.strip(_TERMINALS)
    if current:
        sentences.append(current)
    return sentences


def tokenize(text: str) -> list[list[Token]]:
    """Tokenize ``text`` and split it into sentences (see ``split_sentences``)."""
    return split_sentences(text, tokenize_words(text))
