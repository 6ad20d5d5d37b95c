"""Tag schemes (IOB1, IOB2, BIOES): detection, conversion, spans and allowed transitions.

This is the only module that knows what a ``B-``/``I-``/``E-``/``S-`` prefix means;
the CRF asks it which transitions to forbid and the pipeline asks it for spans.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum


class TagScheme(StrEnum):
    IOB1 = "iob1"
    IOB2 = "iob2"
    BIOES = "bioes"
    NONE = "none"  # plain labels such as POS tags: no spans


@dataclass(frozen=True)
class Span:
    """An entity over tokens ``[start, end)``."""

    label: str
    start: int
    end: int


@dataclass(frozen=True)
class TagProblem:
    """An ill-formed tag at ``index`` of a sentence (e.g. ``I-X`` after ``O`` in IOB2)."""

    index: int
    tag: str
    message: str


def split_tag(tag: str) -> tuple[str, str]:
    """``'B-PER' -> ('B', 'PER')``; ``'O' -> ('O', '')``."""
    if tag == "O":
        return "O", ""
    if len(tag) > 2 and tag[1] == "-" and tag[0] in "BIES":
        return tag[0], tag[2:]
    raise ValueError(f"not a BIO tag: {tag!r} (expected O or B-/I-/E-/S- followed by a type)")


def is_bio_tagset(tags: Sequence[str]) -> bool:
    """True when every tag looks like ``O`` or ``X-TYPE`` with X in B, I, E, S."""
    try:
        for tag in tags:
            split_tag(tag)
    except ValueError:
        return False
    return any(tag != "O" for tag in tags)


def is_bio_tag(tag: str) -> bool:
    return tag == "O" or (len(tag) > 2 and tag[1] == "-" and tag[0] in "BIES")


def looks_like_bio(tags: Collection[str]) -> bool:
    """True for a tag set meant as BIO, malformed tags and all: it has ``O`` and most
    of its distinct tags are ``X-TYPE``. A POS tag set has neither."""
    distinct = set(tags)
    return "O" in distinct and sum(is_bio_tag(t) for t in distinct) > len(distinct) / 2


def detect_scheme(sentences: Sequence[Sequence[str]]) -> TagScheme:
    """Guess the scheme of a corpus from its tag sequences.

    E- or S- prefixes mean BIOES; an I-X that starts an entity (first token, after O,
    or after another type) and no B- at the start of an entity means IOB1; otherwise IOB2.
    """
    all_tags = {t for sent in sentences for t in sent}
    if not is_bio_tagset(sorted(all_tags)):
        return TagScheme.NONE
    prefixes = {split_tag(t)[0] for t in all_tags}
    if prefixes & {"E", "S"}:
        return TagScheme.BIOES
    starts_with_i = 0
    for sent in sentences:
        prev_type = ""
        for tag in sent:
            prefix, typ = split_tag(tag)
            if prefix == "I" and typ != prev_type:
                starts_with_i += 1
            prev_type = typ if prefix != "O" else ""
    # IOB1 starts entities with I- and uses B- only between adjacent same-type entities.
    # Some IOB2 corpora (CoNLL-2002 Spanish) have a stray I- start; demand a majority.
    begins = sum(1 for sent in sentences for t in sent if t.startswith("B-"))
    return TagScheme.IOB1 if starts_with_i > begins else TagScheme.IOB2


def spans_from_tags(tags: Sequence[str], scheme: TagScheme = TagScheme.IOB2) -> list[Span]:
    """Decode entity spans leniently (as conlleval does): an I-X after O opens an entity.

    One pass with the open entity in two locals: this runs on every tagged token, and an
    "O" outside an entity (most tokens) costs one comparison."""
    if scheme == TagScheme.NONE:
        return []
    spans: list[Span] = []
    start, typ = -1, ""  # the open entity: its first token and type; -1 when none
    for i, tag in enumerate(tags):
        if tag == "O":
            if start >= 0:
                spans.append(Span(typ, start, i))
                start, typ = -1, ""
            continue
        prefix, label = split_tag(tag)
        if prefix == "I" and label == typ:
            continue
        if prefix == "E" and label == typ:
            spans.append(Span(typ, start, i + 1))
            start, typ = -1, ""
            continue
        if start >= 0:  # B, S, or an I or E of another type: the open entity ends here
            spans.append(Span(typ, start, i))
        if prefix == "S" or prefix == "E":
            spans.append(Span(label, i, i + 1))
            start, typ = -1, ""
        else:  # B, or an I that opens an entity
            start, typ = i, label
    if start >= 0:
        spans.append(Span(typ, start, len(tags)))
    return spans


def tags_from_spans(spans: Sequence[Span], length: int, scheme: TagScheme) -> list[str]:
    """Encode spans into tags of ``scheme``; spans must not overlap."""
    tags = ["O"] * length
    ordered = sorted(spans, key=lambda s: s.start)
    prev_end, prev_label = -1, ""
    for span in ordered:
        n = span.end - span.start
        if scheme == TagScheme.BIOES:
            if n == 1:
                tags[span.start] = f"S-{span.label}"
            else:
                tags[span.start] = f"B-{span.label}"
                for i in range(span.start + 1, span.end - 1):
                    tags[i] = f"I-{span.label}"
                tags[span.end - 1] = f"E-{span.label}"
        else:
            first = "B"
            if scheme == TagScheme.IOB1 and not (span.start == prev_end and span.label == prev_label):
                first = "I"
            tags[span.start] = f"{first}-{span.label}"
            for i in range(span.start + 1, span.end):
                tags[i] = f"I-{span.label}"
        prev_end, prev_label = span.end, span.label
    return tags


def convert(tags: Sequence[str], source: TagScheme, target: TagScheme) -> list[str]:
    """Convert one tag sequence between schemes (via spans, so ill-formed input is repaired)."""
    if TagScheme.NONE in (source, target):
        return list(tags)
    return tags_from_spans(spans_from_tags(tags, source), len(tags), target)


def validate(tags: Sequence[str], scheme: TagScheme) -> list[TagProblem]:
    """List the ill-formed tags of one sentence under ``scheme`` (empty when well formed)."""
    if scheme == TagScheme.NONE:
        return []
    problems: list[TagProblem] = []
    prev = "O"
    for i, tag in enumerate([*list(tags), "O"]):
        at_end = i == len(tags)
        try:
            _prefix, _label = split_tag(tag)
        except ValueError as exc:
            problems.append(TagProblem(i, tag, str(exc)))
            prev = "O"
            continue
        if not at_end and not is_allowed(prev, tag, scheme):
            problems.append(TagProblem(i, tag, f"{tag} cannot follow {prev} in {scheme.value.upper()}"))
        elif at_end and not is_allowed(prev, "O", scheme):
            problems.append(TagProblem(i - 1, prev, f"{prev} cannot end a sentence in {scheme.value.upper()}"))
        prev = tag
    return problems


def is_allowed(prev: str, tag: str, scheme: TagScheme) -> bool:
    """Whether ``prev -> tag`` is a well-formed transition (``prev='O'`` at the start).

    The CRF forbids exactly the transitions this rejects.
    """
    if scheme in (TagScheme.NONE, TagScheme.IOB1):
        return True
    p_prefix, p_label = split_tag(prev)
    t_prefix, t_label = split_tag(tag)
    if scheme == TagScheme.IOB2:
        return t_prefix != "I" or (p_prefix in "BI" and p_label == t_label)
    # BIOES: inside an entity (after B or I) only I or E of the same type may follow.
    if p_prefix in ("B", "I"):
        return t_prefix in ("I", "E") and p_label == t_label
    return t_prefix in ("O", "B", "S")


def is_allowed_end(tag: str, scheme: TagScheme) -> bool:
    """Whether a sentence may end on ``tag``."""
    if scheme != TagScheme.BIOES:
        return True
    return split_tag(tag)[0] in ("O", "E", "S")
