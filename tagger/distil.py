"""Knowledge distillation: trained models (teachers) give every training token a
probability for each label, and the model in training learns those beside the gold labels.

Why: three seeds of the NER recipe, combined, score higher on dev and on the held-out
slice than any one of them, but running three networks triples inference cost. A single
network trained towards the ensemble's label probabilities keeps one network's cost.
The probabilities carry what one-hot gold labels do not: which names are ambiguous,
which labels compete where (Hinton et al. 2015; Kim and Rush 2016 for sequences).

The teachers are combined as one log-linear CRF (their emission scores and transition
scores averaged), whose forward-backward marginals are the targets. They are computed
once, on the training sentences as written: with casing augmentation the student sees
a sentence lower- or upper-cased and learns what the teachers said of the cased one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from tagger.batch import Batch
from tagger.batching import token_budget_batches
from tagger.checkpoint import LoadedModel, load
from tagger.crf_decode import decode_flat
from tagger.errors import ModelDirError, TaggerError
from tagger.tags import TagScheme
from tagger.torch_runner import TorchRunner

TEACHER_BATCH_TOKENS = 8192  # padded tokens per teacher forward pass: bounded memory


def load_teachers(paths: Sequence[str | Path], labels: Sequence[str], scheme: TagScheme) -> list[LoadedModel]:
    """The teacher models, checked against the model in training: the same labels in
    the same scheme, sentences read alone (as their probabilities are computed), and one
    kind of head for all (CRF marginals and softmax probabilities do not average into
    one distribution)."""
    teachers = []
    for path in paths:
        try:
            teacher = load(path)
        except (ModelDirError, TaggerError) as exc:
            raise TaggerError(f"teacher {path} (--teachers): {exc}") from None
        if teacher.label_scheme != scheme:
            raise TaggerError(
                f"teacher {path}: labels in {teacher.label_scheme}, the model in training learns {scheme} "
                "(--tag-scheme)"
            )
        theirs, ours = set(teacher.vocab.labels), set(labels)
        if theirs != ours:
            missing, extra = sorted(ours - theirs), sorted(theirs - ours)
            problems = ([f"lacks {', '.join(missing[:8])}"] if missing else []) + (
                [f"has {', '.join(extra[:8])} that the training data has not"] if extra else []
            )
            raise TaggerError(f"teacher {path}: labels differ from the training data's: {'; '.join(problems)}")
        context = teacher.config.model.context_sentences
        if context > 0:
            raise TaggerError(
                f"teacher {path}: reads {context} neighbouring sentences on each side (context_sentences); "
                "teachers label sentences alone"
            )
        teachers.append(teacher)
    heads = {t.config.model.head for t in teachers}
    if len(heads) > 1:
        kinds = ", ".join(f"{p} ({t.config.model.head})" for p, t in zip(paths, teachers, strict=True))
        raise TaggerError(f"teachers mix CRF and softmax heads: {kinds}; give one kind")
    return teachers


class Ensemble:
    """Teachers combined as one log-linear CRF in the order of ``labels``: their
    emission scores and their transition, start and end scores averaged."""

    def __init__(self, teachers: Sequence[LoadedModel], labels: Sequence[str]) -> None:
        self.runners = [TorchRunner(t, torch.device("cpu"), 0) for t in teachers]
        self.columns = [[t.vocab.label_index[label] for label in labels] for t in teachers]  # ours -> theirs
        crfs = [r.crf_scores for r in self.runners]
        self.crf: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        if all(c is not None for c in crfs):
            ordered = [_reorder(c, cols) for c, cols in zip(crfs, self.columns, strict=True) if c is not None]
            self.crf = (
                np.mean([c[0] for c in ordered], axis=0),
                np.mean([c[1] for c in ordered], axis=0),
                np.mean([c[2] for c in ordered], axis=0),
            )

    def decode(self, sentences: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Best labels (N,) and every label's probability (N, K) of the tokens of
        ``sentences`` (each non-empty, at most some thousand tokens in all)."""
        scores = [r.scores(sentences)[:, cols] for r, cols in zip(self.runners, self.columns, strict=True)]
        lengths = np.array([len(s) for s in sentences])
        return decode_flat(np.mean(scores, axis=0), lengths, self.crf)  # (N,), (N, K)

    def decode_each(self, sentences: Sequence[Sequence[str]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per sentence (each non-empty), its best labels (n,) and every label's
        probability (n, K), run in groups of at most ``TEACHER_BATCH_TOKENS`` padded tokens."""
        out: list[tuple[np.ndarray, np.ndarray]] = [(np.empty(0), np.empty(0))] * len(sentences)
        for group in token_budget_batches([len(s) for s in sentences], TEACHER_BATCH_TOKENS):
            paths, probs = self.decode([sentences[i] for i in group])  # (N,), (N, K)
            bounds = np.cumsum([len(sentences[i]) for i in group])[:-1]
            for i, rows, path in zip(group, np.split(probs, bounds), np.split(paths, bounds), strict=True):
                out[i] = (path, rows)
        return out


def teacher_probabilities(
    teachers: Sequence[LoadedModel], sentences: Sequence[Sequence[str]], labels: Sequence[str]
) -> list[np.ndarray]:
    """Per sentence (each non-empty), the teachers' combined probability of each label
    at each token, (length, K) float32 with K in the order of ``labels``."""
    return [probs.astype(np.float32) for _, probs in Ensemble(teachers, labels).decode_each(sentences)]


def _reorder(
    crf: tuple[np.ndarray, np.ndarray, np.ndarray], columns: list[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    trans, start, end = crf
    return trans[np.ix_(columns, columns)], start[columns], end[columns]


def attach(batch: Batch, targets: Sequence[np.ndarray]) -> None:
    """Put the targets of the batch's sentences (in its row order) into it as
    ``soft_labels`` (B, T, K), zero on padding."""
    steps, k = batch.words.size(1), targets[0].shape[1]
    grid = np.zeros((len(targets), steps, k), dtype=np.float32)  # (B, T, K)
    for row, target in enumerate(targets):
        grid[row, : len(target)] = target
    batch.soft_labels = torch.from_numpy(grid)
