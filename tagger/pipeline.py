"""The document pipeline: text or tokens -> documents of sentences -> pieces for the
labeler -> sentences joined again -> entities -> one ``TaggedDocument`` per input.

``Tagger`` is the one public entry point for Python users, and the one path the HTTP
service, ``tagger tag`` and ``tagger evaluate`` share. A sentence longer than
``MAX_PIECE_TOKENS`` is cut into pieces for the model (a run-on "sentence" of thousands
of tokens, a table, a log file or an unpunctuated transcript would otherwise hold the
inference thread for a long CRF loop). Pieces overlap by ``PIECE_OVERLAP`` tokens on
each side of a cut and each keeps the labels of its middle only, so every token is
labelled with at least that much context on both sides and an entity across a cut
("New | York") is not split in two. Each piece remembers its document, sentence and
token offset, and the pieces of a sentence are joined before anything is returned, so
callers and writers only ever see the sentences of their input. The pieces of one
document are neighbours for models that look at document context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from tagger.batching import DEFAULT_BATCH_TOKENS
from tagger.document import Entity, TaggedDocument, TaggedToken, TokenLabel, rounded_score
from tagger.errors import TaggerError
from tagger.io.validate import input_problem
from tagger.labeler import CHAR_CACHE_WORDS, OUTPUT_SCHEME, Backend, Labeler
from tagger.modelfiles import ModelFiles
from tagger.tags import TagScheme, spans_from_tags
from tagger.tokenize import Token, tokenize

Label = TypeVar("Label")
MAX_PIECE_TOKENS = 256  # longer sentences are cut for the model (training sentences stay under 130 tokens)
PIECE_OVERLAP = 32  # tokens each piece shares with its neighbour on each side of a cut


@dataclass
class PreparedDocument:
    """A document's text, its sentences of tokens with offsets, and its id."""

    text: str
    sentences: list[list[Token]]
    id: str | None = None

    @property
    def num_tokens(self) -> int:
        return sum(len(s) for s in self.sentences)


@dataclass(frozen=True)
class Piece:
    """A run of tokens of sentence ``sentence`` of document ``document``, labelled
    together; the labels of ``tokens[keep[0]:keep[1]]`` are kept, for the sentence's
    tokens from ``offset`` on (the rest is context shared with the neighbouring pieces)."""

    document: int
    sentence: int
    offset: int
    tokens: Sequence[Token]
    keep: tuple[int, int]


def prepare(document: str | Sequence[str], doc_id: str | None = None) -> PreparedDocument:
    """Tokenize one document: a raw string is tokenized and sentence-split; a list of
    strings is one pre-tokenized sentence whose offsets refer to the tokens joined by
    single spaces."""
    if isinstance(document, str):
        return PreparedDocument(document, tokenize(document), doc_id)
    return PreparedDocument(" ".join(document), [_offsets(document)] if document else [], doc_id)


def cut(
    documents: Sequence[PreparedDocument], max_tokens: int = MAX_PIECE_TOKENS, overlap: int = PIECE_OVERLAP
) -> list[Piece]:
    """Every sentence of every document as pieces of at most ``max_tokens`` tokens, in
    order; a sentence that is cut is cut into pieces sharing ``overlap`` tokens (fewer
    for tiny ``max_tokens``, so that each piece keeps at least one token of its own)."""
    overlap = max(0, min(overlap, (max_tokens - 1) // 2))
    pieces = []
    for d, doc in enumerate(documents):
        for s, sentence in enumerate(doc.sentences):
            n, start = len(sentence), 0  # start: the first token this piece keeps
            while start < n:
                first = max(0, min(start - overlap, n - max_tokens))  # the last piece is filled leftwards
                end = min(n, first + max_tokens)
                kept_end = n if end == n else end - overlap
                pieces.append(Piece(d, s, start, sentence[first:end], (start - first, kept_end - first)))
                start = kept_end
    return pieces


def join(
    documents: Sequence[PreparedDocument], pieces: Sequence[Piece], labels: Sequence[Sequence[Label]]
) -> list[list[list[Label]]]:
    """``labels[k]`` (one per token of ``pieces[k]``; the kept ones are used) regrouped per
    sentence of each document: ``result[d][s]`` has one entry per token of sentence ``s``
    of document ``d``."""
    joined: list[list[list[Label]]] = [[[] for _ in doc.sentences] for doc in documents]
    for piece, piece_labels in zip(pieces, labels, strict=True):
        sentence = joined[piece.document][piece.sentence]
        if len(sentence) != piece.offset or len(piece_labels) != len(piece.tokens):
            raise ValueError(f"piece at token {piece.offset} of sentence {piece.sentence} is out of order")
        sentence.extend(piece_labels[piece.keep[0] : piece.keep[1]])
    return joined


class Tagger:
    """``Tagger.load(paths)("Angela Merkel visited Paris.")``: tokenize, label with every
    model, join, find entities."""

    def __init__(self, labeler: Labeler, max_piece_tokens: int = MAX_PIECE_TOKENS) -> None:
        self.labeler = labeler
        self.max_piece_tokens = max_piece_tokens

    @classmethod
    def load(
        cls,
        paths: str | Path | Sequence[str | Path],
        device: str | None = None,
        batch_tokens: int = DEFAULT_BATCH_TOKENS,
        parallel_models: bool = False,
        char_cache: int = CHAR_CACHE_WORDS,
        backend: Backend = "auto",
    ) -> Tagger:
        return cls(Labeler.load(paths, device, batch_tokens, parallel_models, char_cache, backend))

    @property
    def models(self) -> dict[str, ModelFiles]:
        return self.labeler.models

    @property
    def device(self) -> str:
        """Where the models run: "cpu", "cuda", "cuda:1"."""
        return self.labeler.device

    def tag(
        self, documents: Sequence[str | Sequence[str]], models: Sequence[str] | None = None
    ) -> list[TaggedDocument]:
        """Tag documents (see ``prepare``) with each selected model.

        Input is refused as ``POST /tag`` refuses it, with the same message (a
        ``TaggerError`` naming the place, e.g. ``field 'tokens[0][1]': empty token``): a
        lone surrogate anywhere, or a token the tokenizer could not have made (empty, or
        holding whitespace or a control character)."""
        if isinstance(documents, str):
            raise TypeError("tag() takes a list of documents; call the tagger itself for one string")
        problem = input_problem(documents)
        if problem is not None:
            raise TaggerError(problem)
        return self.tag_prepared([prepare(d) for d in documents], models)

    def __call__(self, text: str, models: Sequence[str] | None = None) -> TaggedDocument:
        return self.tag([text], models)[0]

    def label_prepared(
        self,
        documents: Sequence[PreparedDocument],
        models: Sequence[str] | None = None,
        context_groups: Sequence[int] | None = None,
    ) -> dict[str, list[list[list[TokenLabel]]]]:
        """Labels only, per model: ``result[name][d][s]`` has one label per token of
        sentence ``s`` of document ``d``. Sentences are cut into pieces and joined again,
        so every caller (tagging, the service, evaluation) labels long sentences alike."""
        pieces = cut(documents, self.max_piece_tokens)
        group = context_groups if context_groups is not None else range(len(documents))
        predictions = self.labeler.label(
            [[t.text for t in p.tokens] for p in pieces], models, [group[p.document] for p in pieces]
        )
        return {name: join(documents, pieces, labels) for name, labels in predictions.items()}

    def tag_prepared(
        self,
        documents: Sequence[PreparedDocument],
        models: Sequence[str] | None = None,
        context_groups: Sequence[int] | None = None,
    ) -> list[TaggedDocument]:
        """All pieces of all documents go through each model in shared batches.

        Pieces of one document are each other's context; ``context_groups[d]``, when
        given, joins documents into larger context groups (CoNLL sentences of one
        ``-DOCSTART-`` document are separate records but one text)."""
        per_model = self.label_prepared(documents, models, context_groups)
        result = []
        for d, doc in enumerate(documents):
            sentences: list[list[TaggedToken]] = []
            entities: list[Entity] = []
            for s, sentence in enumerate(doc.sentences):
                tagged = [TaggedToken(t.text, t.start, t.end) for t in sentence]
                for name, joined in per_model.items():
                    labels: list[TokenLabel] = joined[d][s]
                    for token, label in zip(tagged, labels, strict=True):
                        token.labels[name] = label
                    if self.models[name].label_scheme != TagScheme.NONE:
                        entities.extend(_entities(doc.text, sentence, labels, name, s))
                sentences.append(tagged)
            entities.sort(key=lambda e: (e.start, e.model))
            result.append(TaggedDocument(id=doc.id, sentences=sentences, entities=entities, text=doc.text))
        return result


def _offsets(tokens: Sequence[str]) -> list[Token]:
    out, position = [], 0
    for token in tokens:
        out.append(Token(token, position, position + len(token)))
        position += len(token) + 1
    return out


def _entities(text: str, sent: list[Token], labels: list[TokenLabel], model: str, s_index: int) -> list[Entity]:
    spans = spans_from_tags([lab.label for lab in labels], OUTPUT_SCHEME)
    result = []
    for span in spans:
        start, end = sent[span.start].start, sent[span.end - 1].end
        score = rounded_score(sum(lab.score for lab in labels[span.start : span.end]) / (span.end - span.start))
        result.append(Entity(text[start:end], span.label, start, end, score, model, s_index, span.start, span.end))
    return result
