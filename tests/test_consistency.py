"""Tests for ``tagger.consistency``: the type bonus one document's occurrences of a word
give each other, on hand-made marginals."""

from __future__ import annotations

import numpy as np
import pytest

from tagger.consistency import label_types, type_bonus

LABELS = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
TYPES = label_types(LABELS)


def probs(*rows: list[float]) -> np.ndarray:
    return np.array(rows, dtype=np.float64)


def test_label_types_share_one_index_per_type_across_prefixes() -> None:
    assert label_types(["O", "B-PER", "I-PER", "S-LOC", "E-LOC", "<pad>"]).tolist() == [0, 2, 2, 1, 1, 0]


def test_an_ambiguous_mention_is_pulled_towards_the_type_of_its_other_mentions() -> None:
    forms = ["Leeds", "won", "Leeds", "Leeds"]
    p = probs(
        [0.0, 0.45, 0.0, 0.55, 0.0],  # ambiguous, slightly ORG
        [1.0, 0.0, 0.0, 0.0, 0.0],
        [0.0, 0.9, 0.0, 0.1, 0.0],  # confidently LOC
        [0.0, 0.8, 0.0, 0.2, 0.0],
    )
    bonus = type_bonus(forms, p, TYPES, weight=0.5)
    others = np.array([0.85, 0.15])  # the two other mentions: LOC 0.9 + 0.8, ORG 0.1 + 0.2, halved
    assert bonus[0, 0] == 0.0  # O is never moved
    assert bonus[0, 1] == bonus[0, 2] == pytest.approx(0.5 * np.log(others[0] + 1e-4), abs=1e-6)
    assert bonus[0, 3] == bonus[0, 4] == pytest.approx(0.5 * np.log(others[1] + 1e-4), abs=1e-6)
    assert bonus[0, 1] > bonus[0, 3]  # towards LOC
    assert not bonus[1].any()  # a word that occurs once gets nothing
    # each mention is moved by the others only: the third by mentions 1 and 4
    assert bonus[2, 1] == pytest.approx(0.5 * np.log((0.45 + 0.8) / 2.0 + 1e-4), abs=1e-6)


def test_no_bonus_where_the_other_mentions_are_mostly_not_entities() -> None:
    forms = ["New", "New", "New"]
    p = probs([0.0, 0.9, 0.0, 0.1, 0.0], [0.9, 0.0, 0.0, 0.1, 0.0], [0.8, 0.1, 0.0, 0.1, 0.0])
    bonus = type_bonus(forms, p, TYPES, weight=1.0)
    assert not bonus[0].any()  # its others: entity share 0.15 on average
    assert bonus.dtype == np.float32 and bonus.shape == (3, 5)


def test_strings_must_match_exactly_and_weight_zero_is_off() -> None:
    p = probs([0.0, 0.5, 0.0, 0.5, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0])
    assert not type_bonus(["Leeds", "LEEDS"], p, TYPES, weight=1.0).any()
    assert not type_bonus(["Leeds", "Leeds"], p, TYPES, weight=0.0).any()
    assert type_bonus(["Leeds", "Leeds"], p, TYPES, weight=1.0)[0, 1] == pytest.approx(np.log(1.0 + 1e-4))


def _reference_bonus(forms: list[str], documents: list[int], p: np.ndarray, weight: float) -> np.ndarray:
    """The rule of ``type_bonus`` token by token, with nothing skipped."""
    per_type = p @ np.eye(int(TYPES.max()) + 1)[TYPES]  # (N, C)
    bonus = np.zeros(p.shape, dtype=np.float32)
    for i, (form, doc) in enumerate(zip(forms, documents, strict=True)):
        others = [j for j in range(len(forms)) if j != i and forms[j] == form and documents[j] == doc]
        entity = per_type[others, 1:].sum() if others else 0.0
        if others and entity >= 0.5 * len(others):
            conditional = per_type[others, 1:].sum(axis=0) / entity
            bonus[i] = weight * np.concatenate([[0.0], np.log(conditional + 1e-4)])[TYPES]
    return bonus


def test_many_documents_at_once_get_the_bonus_each_would_alone() -> None:
    rng = np.random.default_rng(0)
    n = 300
    forms = [f"w{i}" for i in rng.integers(0, 40, size=n)]
    documents = rng.integers(0, 4, size=n).tolist()
    p = rng.dirichlet(np.full(len(LABELS), 0.3), size=n)  # (N, K): many tokens sure, many not
    got = type_bonus(forms, p, TYPES, weight=0.7, documents=documents)
    want = _reference_bonus(forms, documents, p, 0.7)
    assert want.any(axis=1).sum() > 20  # the rule fires for many tokens, and stays off for others
    assert (~want.any(axis=1)).sum() > 20
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
