"""Scores: entity-level P/R/F1 per type (seqeval) and token accuracy.

seqeval (with scikit-learn and scipy behind it) is imported only when entities are
scored: it comes with the ``train`` extra, and the service's image does without it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal

from tagger.corpus import Sentence
from tagger.errors import CorpusError, TaggerError
from tagger.labeler import OUTPUT_SCHEME, Labeler
from tagger.pipeline import Tagger, prepare
from tagger.tags import TagScheme, convert, detect_scheme, is_bio_tag


def token_accuracy(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> float:
    total = sum(len(g) for g in gold)
    right = sum(a == b for g, p in zip(gold, pred, strict=True) for a, b in zip(g, p, strict=True))
    return right / max(total, 1)


def _entity_scores(gold: list[list[str]], pred: list[list[str]], strict: bool) -> dict[str, Any]:
    try:
        from seqeval.metrics import classification_report
        from seqeval.scheme import IOB2
    except ImportError:
        raise TaggerError("scoring entities needs seqeval: pip install 'tagger[train]'") from None
    kwargs: dict[str, Any] = {"mode": "strict", "scheme": IOB2} if strict else {}
    report = classification_report(gold, pred, output_dict=True, zero_division=0, **kwargs)
    micro = report.pop("micro avg")
    for key in ("macro avg", "weighted avg"):
        report.pop(key, None)

    def clean(row: dict[str, Any]) -> dict[str, Any]:
        return {
            "precision": float(row["precision"]),
            "recall": float(row["recall"]),
            "f1": float(row["f1-score"]),
            "support": int(row["support"]),
        }

    return {"micro": clean(micro), "per_type": {k: clean(v) for k, v in sorted(report.items())}}


def score(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], spans: bool) -> dict[str, Any]:
    """Metrics dict. With ``spans`` (BIO tags, in IOB2): ``micro``, ``per_type`` in
    conlleval-like mode, the same under ``strict`` IOB2 mode, and ``accuracy``.
    ``main`` is the number early stopping and cards use: micro F1 or accuracy.
    """
    result: dict[str, Any] = {"accuracy": token_accuracy(gold, pred)}
    if spans:
        g, p = [list(x) for x in gold], [list(x) for x in pred]
        result.update(_entity_scores(g, p, strict=False))
        result["strict"] = _entity_scores(g, p, strict=True)
        result["main"] = result["micro"]["f1"]
    else:
        result["main"] = result["accuracy"]
    return result


Casing = Literal["as-is", "lower", "upper"]


def _refuse_other_tags(sentences: Sequence[Sentence], model_name: str) -> None:
    """Gold tags that are not entity tags (IO tags, a POS column) cannot be scored
    against entity spans: name the first one and where it is."""
    for sent in sentences:
        for i, tag in enumerate(sent.tags):
            if not is_bio_tag(tag):
                line = sent.lines[i] if i < len(sent.lines) else 0
                raise CorpusError(
                    sent.source or "<input>",
                    line,
                    f"tag {tag!r} is not an entity tag (O, or B-, I-, E-, S- and a type), which {model_name} "
                    "predicts; is this the column of entity tags (--tag-column)?",
                )


def evaluate(
    labeler: Labeler, model_name: str, sentences: Sequence[Sentence], casing: Casing = "as-is"
) -> dict[str, Any]:
    """Tag ``sentences`` with one model, the way ``tagger tag`` does (sentences of one
    document are each other's context; long sentences are cut into pieces) and score
    against their gold tags; ``casing`` re-cases every token first, to measure how the
    model does on text without case information."""
    loaded = labeler.models[model_name]
    spans = loaded.label_scheme != TagScheme.NONE
    gold = [s.tags for s in sentences]
    source = detect_scheme(gold)
    if spans and source == TagScheme.NONE:
        _refuse_other_tags(sentences, model_name)
    if spans and source != OUTPUT_SCHEME:  # compare in the labeler's output scheme; IOB2 gold stays as it is
        gold = [convert(t, source, OUTPUT_SCHEME) for t in gold]
    start = time.perf_counter()
    documents = [s.document for s in sentences]
    recase = {"as-is": lambda t: t, "lower": str.lower, "upper": str.upper}[casing]
    prepared = [prepare([recase(t) for t in s.tokens]) for s in sentences]  # each record one sentence
    joined = Tagger(labeler).label_prepared(prepared, [model_name], documents)[model_name]
    predicted = [labels[0] if labels else [] for labels in joined]  # an empty sentence has none
    elapsed = time.perf_counter() - start
    result = score(gold, [[t.label for t in sent] for sent in predicted], spans)
    result["sentences"] = len(sentences)
    result["tokens"] = sum(len(s) for s in sentences)
    result["sentences_per_second"] = len(sentences) / max(elapsed, 1e-9)
    return result
