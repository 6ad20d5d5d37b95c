"""Document-level label consistency: one name, one entity type per document.

A news story names "Leeds" in its headline, its text and a results table; a sentence-level
tagger may call it ORG in one and LOC in another, and a reader would not. Before the
final decoding, each token's entity-type scores are nudged towards the types its other
occurrences in the same document got in a first pass (their CRF marginals), in the spirit
of the non-local consistency of Finkel et al. (2005) and Krishnan and Manning (2006),
as a second decoding pass rather than Gibbs sampling or a second CRF.

Only the *type* is shared, never whether a token is an entity at all: the same word is
often part of an entity in one place and not in another ("New" in "New York" and in
"new rules"), and pushing the O-versus-entity decision across a document lost F1 on the
held-out slice of CoNLL-2003 train where sharing the type gained (at weight 1: 0.8899 and
0.8968, against 0.8964 without). Shapes: N tokens, K labels, C = 1 + entity types (type 0
is O).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

MIN_ENTITY_SHARE = 0.5  # the other occurrences must be entities on average this surely
_FLOOR = 1e-4  # a type no other occurrence has is made unlikely, not impossible


def label_types(labels: Sequence[str]) -> np.ndarray:
    """Type index of each label (K,): 0 for O (and any label without a ``X-`` prefix),
    1 + the rank of the entity type otherwise (B-PER, I-PER, S-PER, E-PER share one)."""
    types = sorted({lab[2:] for lab in labels if lab[1:2] == "-"})
    return np.array([1 + types.index(lab[2:]) if lab[1:2] == "-" else 0 for lab in labels], dtype=np.int64)


def type_bonus(
    forms: Sequence[str],
    probs: np.ndarray,
    types: np.ndarray,
    weight: float,
    documents: Sequence[int] | None = None,
) -> np.ndarray:
    """What to add to the emission scores (N, K) of tokens.

    ``forms`` are the N token strings; ``documents`` (N,) the document of each (default:
    all one), so many documents go at once: the same string in the same document is the
    same word. ``probs`` (N, K) their first-pass marginals and ``types`` (K,) from
    ``label_types``. For a token whose other occurrences are entities with mean
    probability at least ``MIN_ENTITY_SHARE``, the entity labels of type c gain
    ``weight * log P(c | entity)`` under those occurrences' pooled marginals; O gains
    nothing. Every other token gets zeros.
    """
    n, k = probs.shape
    bonus = np.zeros((n, k), dtype=np.float32)
    if n < 2 or weight == 0.0:
        return bonus
    onehot = np.zeros((k, int(types.max()) + 1))
    onehot[np.arange(k), types] = 1.0
    per_type = probs.astype(np.float64) @ onehot  # (N, C)
    # Tokens that can vouch for another (a hair wider than the rule below: rows of
    # marginals sum to 1 only to rounding, and a wider set changes nothing).
    sure = np.flatnonzero(per_type[:, 0] <= 1.0 - MIN_ENTITY_SHARE + 1e-9)
    if not len(sure):
        return bonus
    # Other occurrences averaging at least MIN_ENTITY_SHARE include one that sure: only
    # the strings of those can gain, and only their occurrences are counted (most of the
    # text is not, which saves a dict entry per token).
    vouched = {forms[i] for i in sure.tolist()}
    candidates = np.array([i for i, f in enumerate(forms) if f in vouched], dtype=np.int64)  # (M,)
    keyed = [forms[i] for i in candidates] if documents is None else [(documents[i], forms[i]) for i in candidates]
    per_type = per_type[candidates]  # (M, C)
    ids: dict[Hashable, int] = {}
    form_ids = np.fromiter((ids.setdefault(f, len(ids)) for f in keyed), dtype=np.int64, count=len(keyed))  # (M,)
    counts = np.bincount(form_ids)  # (F,)
    totals = np.zeros((len(counts), per_type.shape[1]))
    np.add.at(totals, form_ids, per_type)
    others = totals[form_ids] - per_type  # (M, C) summed over the other occurrences
    n_others = counts[form_ids] - 1  # (M,)
    entity = others[:, 1:].sum(axis=1)  # (M,)
    shared = (n_others > 0) & (entity >= MIN_ENTITY_SHARE * np.maximum(n_others, 1))
    if not shared.any():
        return bonus
    conditional = others[shared, 1:] / entity[shared, None]  # (S, C - 1)
    log_type = np.concatenate([np.zeros((len(conditional), 1)), np.log(conditional + _FLOOR)], axis=1)  # (S, C)
    bonus[candidates[shared]] = weight * log_type[:, types]
    return bonus
