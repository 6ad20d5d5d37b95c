"""Raw text to tokens with character offsets, and tokens to sentences.

The models are trained on CoNLL-2003 English and UD English EWT, which are both
tokenized in the Penn Treebank tradition: punctuation is split off words, clitics are
split (``John's`` -> ``John 's``, ``don't`` -> ``do n't``), while URLs, e-mail
addresses, numbers, abbreviations and hyphenated words stay whole. A model only sees
words as the corpus tokenizer cut them, so service text must be cut the same way or
every embedding lookup and every learned suffix feature drifts.

Design
------
All token rules live in ``_RULES``: an ordered list of named regular expressions that
is compiled into one alternation and run with a single ``finditer`` pass. At each
position Python's regex engine tries the alternatives *in list order* and takes the
first that matches (not the longest), so order encodes priority: URLs before words
(``www.x.org`` is not three words), abbreviations before words (``Mr.`` keeps its
period), clitic splits before the general word rule, and a catch-all single character
last, so every non-separator character ends up in some token. Characters that no rule
matches (whitespace, zero-width separators, C0/C1 control characters) are simply
skipped; they never appear inside a token. Offsets are ``Match.start()/end()``, i.e.
Python string indices into the original text, so ``text[t.start:t.end] == t.text``
holds for any input, including lone surrogates and unnormalised Unicode.

The word character class is built once at import from ``unicodedata``: letters,
digits, ``_`` and combining marks (so ``e\\u0301`` or Devanagari vowel signs stay in
their word), minus CJK ideographs and kana, which are cut one ideograph per token
(like BERT's basic tokenizer) and one token per kana run, because those scripts do not
separate words with spaces.

Known deviations from the gold corpora (measured by ``benchmarks/tokenizer_fidelity.py``):
EWT splits most hyphenated words (``15 - year``) while CoNLL keeps them; we follow
CoNLL. Sentence-final abbreviations keep their period (``Inc.``) as both corpora do,
but they then do not end a sentence.

Sentence splitting (``split_sentences``) is a deliberately small rule on top of the
tokens; see its docstring.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Token", "split_sentences", "tokenize", "tokenize_words"]


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
# set) plus zero-width space / non-joiner / joiner, word joiner and BOM, which are
# invisible and would otherwise glue words together or end up inside tokens.
_SEP = r"\s\u200b-\u200d\u2060\ufeff"

# C0/C1 control characters that are not whitespace: dropped, never a token.
_CTRL = r"\x00-\x1f\x7f-\x9f"

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

# One word character: ``\w`` (letters, digits, ``_``) minus CJK, or a combining mark.
# Boundary checks use plain ``\w``: they only differ next to a mark or CJK character,
# and repeating the mark class in every lookaround would make the pattern slow to compile.
_WORD = f"(?:[^\\W{_HAN}{_KANA}]|[{_MARKS}])"
_NOT_AFTER_WORD = r"(?<!\w)"
_NOT_BEFORE_WORD = r"(?!\w)"
_APOS = "'’ʼ"
_CLITIC = f"(?i:[{_APOS}](?:s|m|d|ll|re|ve)|n[{_APOS}]t)"  # 's 'm 'd 'll 're 've n't

# Abbreviations that keep their period. Case-sensitive on purpose: ``Co.`` is a company
# but ``co.`` at the end of a sentence is not an abbreviation.
_ABBREVIATIONS = (
    # titles
    "Mr|Mrs|Ms|Messrs|Dr|Prof|Rev|Hon|Sr|Jr|St|Gen|Gov|Sen|Rep|Col|Capt|Lt|Sgt|Maj|Adm|Cmdr|Pres|Supt|Insp|Fr"
    # organisations and addresses
    "|Inc|Ltd|Corp|Co|Bros|Assn|Dept|Univ|Ave|Blvd|Rd|Mt|Ft|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
    # US states as written in newswire datelines
    "|Ala|Ariz|Ark|Calif|Colo|Conn|Fla|Ga|Ill|Ind|Kan|Ky|Md|Mich|Minn|Miss|Neb|Nev|Okla|Ore|Pa|Tenn|Tex|Va|Vt|Wis"
    # lower-case Latin and technical abbreviations
    "|etc|vs|approx|ext|cf|viz|esp|incl|misc|fig|vol|pp"
)

# Words PTB/EWT split although they contain no apostrophe: ``cannot`` -> ``can not``,
# ``gonna`` -> ``gon na``, and the apostrophe-less negations of informal text
# (``dont`` -> ``do nt``). A closed list, because ``nt`` is an ordinary word ending.
_SPLIT_STEMS = (
    rf"(?i:can(?=not{_NOT_BEFORE_WORD})|gon(?=na{_NOT_BEFORE_WORD})|wan(?=na{_NOT_BEFORE_WORD})|got(?=ta{_NOT_BEFORE_WORD})|out(?=ta{_NOT_BEFORE_WORD})"
    rf"|(?:do|does|did|is|was|were|are|has|have|had|could|would|should|must|need|ca|wo|ai)(?=nt{_NOT_BEFORE_WORD}))"
)
_SPLIT_TAILS = r"(?i:not|na|ta|nt)"

# Inside a word: hyphens, apostrophes that do not start a clitic (``O'Neill``,
# ``rock'n'roll``), dots between word characters (``alt.animals.cat``, ``3.14``,
# ``TEXT.htm``) and ``, : /`` between digits (``1,000``, ``10:30``, ``08/16/2000``).
_JOINER = rf"(?:[-‐‑.]|(?!{_CLITIC}{_NOT_BEFORE_WORD})[{_APOS}]|(?<=\d)[,:/](?=\d))"
_WORD_BODY = rf"{_WORD}+(?:{_JOINER}{_WORD}+)*"

# The token rules, in priority order. Named groups document the rule and let the
# fidelity benchmark report which rule produced a token.
_RULES: list[tuple[str, str]] = [
    # URLs with a scheme or www., up to whitespace; trailing punctuation is left out so
    # ``see www.x.org.`` ends with a period token.
    ("url", rf"(?:(?:https?|ftp)://|{_NOT_AFTER_WORD}www\.)[^{_SEP}<>\"]*[^{_SEP}<>\"'.,;:!?)\]}}]"),
    # E-mail addresses, including Usenet-masked ones (``franz371...@gmail.com``).
    ("email", r"[\w.+%'-]*\w[.]*@\w[\w-]*(?:\.[\w-]+)*"),
    # @handles, #hashtags and bare ``@domain.com``.
    ("handle", rf"{_NOT_AFTER_WORD}[@#]{_WORD}+(?:[.-]{_WORD}+)*"),
    # Known abbreviations (``Mr.``, ``Inc.``, ``etc.``); ``No.`` only before a number.
    ("abbreviation", rf"{_NOT_AFTER_WORD}(?:(?:{_ABBREVIATIONS})\.|No\.(?=\s*\d)){_NOT_BEFORE_WORD}"),
    # Dotted acronyms: ``U.S.``, ``e.g.``, ``a.m.``, ``P.S.``, also ``U.S`` without the
    # last period.
    ("acronym", rf"{_NOT_AFTER_WORD}[A-Za-z](?:\.[A-Za-z])+\.?{_NOT_BEFORE_WORD}"),
    # Single-letter initials before a capitalised word: ``J. Smith``.
    ("initial", rf"{_NOT_AFTER_WORD}[A-Z]\.(?=[^\S\n]+[A-Z])"),
    # Numbered-list markers at the start of a line: ``1. Marcel Wust``.
    ("list_marker", r"(?<![^\n])\d{1,3}\.(?=[^\S\n])"),
    # Currency prefixes glued to ``$``: ``US$``, ``C$``.
    ("currency", rf"{_NOT_AFTER_WORD}(?:US|C|A|HK|NZ|S|NT)\$"),
    # A word that ends in n't: ``do``|``n't``, ``ca``|``n't``.
    ("nt_stem", rf"{_WORD}+(?=(?i:n[{_APOS}]t){_NOT_BEFORE_WORD})"),
    # cannot / gonna / dont and friends, first part.
    ("split_stem", rf"{_NOT_AFTER_WORD}{_SPLIT_STEMS}"),
    # Clitics: 's 'm 'd 'll 're 've n't. The word rule stops in front of them.
    ("clitic", rf"{_CLITIC}{_NOT_BEFORE_WORD}"),
    # Second part of cannot / gonna / dont.
    ("split_tail", rf"(?<=\w){_SPLIT_TAILS}{_NOT_BEFORE_WORD}"),
    # Signed or leading-dot numbers at a token start: ``-5``, ``+44``, ``.496``.
    ("signed_number", rf"{_NOT_AFTER_WORD}(?:[+-]\.?|\.)(?=\d){_WORD_BODY}"),
    # Words, numbers, hyphenated compounds, dotted names.
    ("word", _WORD_BODY),
    # CJK: one ideograph per token, kana runs whole.
    ("han", f"[{_HAN}]"),
    ("kana", f"[{_KANA}]+"),
    # Emoticons, only when not glued to a following word (``Note:Delivery``).
    ("emoticon", rf"(?:[:;=][-^o']?[)(\]\[DPp/\\|]|<3){_NOT_BEFORE_WORD}"),
    # Ellipses and repeated punctuation stay one token: ``...``, ``!!``, ``?!``, ``--``.
    ("punct_run", r"\.{2,}|…+|[!?]{2,}|-{2,}|(?P<rc>[*=_~+<>#$\\/`'^])(?P=rc)+"),
    # Regional-indicator pairs are flags.
    ("flag", r"[\U0001f1e6-\U0001f1ff]{2}"),
    # Anything else (punctuation, symbols, emoji, lone surrogates) is one character,
    # with any modifiers or marks that follow it.
    ("symbol", rf"[^{_SEP}{_CTRL}][{_EMOJI_MOD}{_MARKS}]*"),
]

_TOKEN_RE = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in _RULES))


def tokenize_words(text: str) -> list[Token]:
    """Tokenize ``text`` without sentence splitting.

    Every token satisfies ``text[t.start:t.end] == t.text``; tokens are non-empty, in
    order, non-overlapping and never contain whitespace or zero-width separators.
    """
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]


def explain(text: str) -> list[tuple[Token, str]]:
    """Each token with the name of the rule that produced it (for debugging rules)."""
    return [(Token(m.group(), m.start(), m.end()), m.lastgroup or "") for m in _TOKEN_RE.finditer(text)]


# --------------------------------------------------------------------------------------
# Sentence splitting
# --------------------------------------------------------------------------------------

_TERMINAL_CHARS = frozenset(".!?…")
_CJK_TERMINALS = frozenset({"。", "！", "？", "｡"})
_CLOSERS = frozenset({'"', "'", "”", "’", "»", ")", "]", "}", "''", "›"})
_OPENERS = frozenset("\"'“‘«([{¿¡`")
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n|\u2029")


def _is_terminal(token: str) -> bool:
    return all(ch in _TERMINAL_CHARS for ch in token)


def _starts_sentence(token: str) -> bool:
    first = token[0]
    return first.isupper() or first.isdigit() or first in _OPENERS


def split_sentences(text: str, tokens: list[Token]) -> list[list[Token]]:
    """Group ``tokens`` (from ``tokenize_words(text)``) into sentences.

    A sentence ends

    * after a token made only of ``. ! ? …`` (so ``.``, ``?!``, ``...``), optionally
      followed by closing quotes or brackets, when whitespace and then a token starting
      with an upper-case letter, a digit or an opening quote/bracket follow;
    * after ``。！？`` whatever follows (CJK text has no spaces between sentences);
    * at a blank line (two newlines with only whitespace between), always.

    Abbreviations and initials never end a sentence because the tokenizer keeps their
    period inside the token (``Mr.``, ``U.S.``, ``J.``), so they are not terminals. The
    price is that a sentence really ending in ``Inc.`` is merged with the next one;
    both training corpora are sentence-split already, so this only affects raw text.
    """
    sentences: list[list[Token]] = []
    current: list[Token] = []
    pending = False  # a terminal (and maybe closers) was seen; decide at the next token
    for tok in tokens:
        if current:
            prev = current[-1]
            gap = text[prev.end : tok.start]
            split = False
            if ("\n" in gap and _BLANK_LINE.search(gap)) or "\u2029" in gap:
                split = True
            elif pending:
                # ``gap`` holds only skipped characters (separators, controls).
                if tok.text in _CLOSERS and not gap:
                    current.append(tok)
                    continue
                split = bool(gap) and _starts_sentence(tok.text)
            if split:
                sentences.append(current)
                current = []
        current.append(tok)
        pending = _is_terminal(tok.text) or tok.text in _CJK_TERMINALS
        if tok.text in _CJK_TERMINALS:
            sentences.append(current)
            current = []
            pending = False
    if current:
        sentences.append(current)
    return sentences


def tokenize(text: str) -> list[list[Token]]:
    """Tokenize ``text`` and split it into sentences (see ``split_sentences``)."""
    return split_sentences(text, tokenize_words(text))
