"""Decoding a linear-chain CRF in NumPy: Viterbi paths and forward-backward marginals,
and the transitions a tag scheme forbids. No torch: the ONNX backend decodes with this
alone, and ``tagger.crf`` (training, the torch backend) calls the same functions.

Inference runs in NumPy: the loops over time steps do a handful of operations on
prefixes of (N, K) arrays (``Packing``: every sentence of a call at once), where a torch call costs several microseconds
of dispatch, all of it holding the GIL that the server's other threads need; NumPy
gives identical results for less of both. Training keeps the torch methods of
``tagger.crf``, which autograd needs. Shapes: B batch, T time, K labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tagger.tags import TagScheme, is_allowed, is_allowed_end

FORBIDDEN = -1e4  # finite, so logsumexp never sees inf - inf


def constraint_masks(labels: Sequence[str], scheme: TagScheme) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boolean masks of allowed ``(from, to)`` transitions (K, K), start labels (K,) and
    end labels (K,)."""
    k = len(labels)
    allowed = np.ones((k, k), dtype=bool)
    start = np.ones(k, dtype=bool)
    end = np.ones(k, dtype=bool)
    if scheme in (TagScheme.IOB2, TagScheme.BIOES):
        for i, a in enumerate(labels):
            start[i] = is_allowed("O", a, scheme)
            end[i] = is_allowed_end(a, scheme)
            for j, b in enumerate(labels):
                allowed[i, j] = is_allowed(a, b, scheme)
    return allowed, start, end


def penalised(
    transitions: np.ndarray, start: np.ndarray, end: np.ndarray, masks: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Learned scores plus ``FORBIDDEN`` where ``masks`` disallow, as ``viterbi`` and
    ``marginals`` take them."""
    allowed, start_ok, end_ok = masks
    penalty = np.float32(FORBIDDEN)
    return (
        transitions + (~allowed) * penalty,
        start + (~start_ok) * penalty,
        end + (~end_ok) * penalty,
    )


@dataclass(frozen=True)
class Packing:
    """Where each token of N sentences lies when their rows are stored time-major,
    longest sentence first, as torch's PackedSequence does: step t is rows
    ``offsets[t] : offsets[t] + counts[t]``, the ``counts[t]`` sentences longer than t in
    rank order. A step then works on a prefix of the running state, without masks or
    padding, so many batches' sentences decode in one pass of a few hundred steps."""

    lengths: np.ndarray  # (N,) int64, each at least 1
    order: np.ndarray  # (N,) sentence index of each rank, longest first (stable)
    counts: list[int]  # (T,) sentences still running at step t
    offsets: list[int]  # (T,) packed row of rank 0 at step t
    index: np.ndarray  # (total,) packed row of each token, sentence by sentence

    @property
    def ends(self) -> np.ndarray:
        """Packed row of each rank's last token (N,)."""
        return np.asarray(self.offsets)[self.lengths[self.order] - 1] + np.arange(len(self.order))


def packing(lengths: np.ndarray) -> Packing:
    """The packing of sentences of ``lengths`` (N,), N >= 1, each at least 1 token."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) == 0 or lengths.min() < 1:
        raise ValueError("packing needs at least one sentence, each of at least one token")
    order = np.argsort(-lengths, kind="stable")
    descending = lengths[order]
    steps = int(descending[0])
    counts = len(lengths) - np.searchsorted(descending[::-1], np.arange(steps), side="right")  # (T,)
    offsets = np.cumsum(counts) - counts  # (T,)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    sentence = np.repeat(np.arange(len(lengths)), lengths)  # (total,)
    step = np.arange(len(sentence)) - (np.cumsum(lengths) - lengths)[sentence]  # (total,)
    return Packing(lengths, order, counts.tolist(), offsets.tolist(), offsets[step] + rank[sentence])


def viterbi_packed(
    emissions: np.ndarray, packed: Packing, trans: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Best label of every packed row (total,) int64, and each path's score by rank (N,).

    emissions (total, K) in packed order; trans (K_from, K_to), start and end (K,)
    including the penalties of forbidden moves.
    """
    k = emissions.shape[1]
    emissions = emissions.astype(trans.dtype, copy=False)
    into = np.ascontiguousarray(trans.T)  # (K_to, K_from): reductions run over the last axis
    counts, offsets = packed.counts, packed.offsets
    flat_rows = np.arange(counts[0] * k)
    score = start + emissions[: counts[0]]  # (N, K), rank order
    backpointers = np.empty(emissions.shape, dtype=np.int64)  # (total, K); step 0 unused
    for t in range(1, len(counts)):
        n, o = counts[t], offsets[t]
        candidates = (score[:n, None, :] + into).reshape(n * k, k)  # (n * K_to, K_from)
        idx = candidates.argmax(axis=1)  # (n * K_to,)
        score[:n] = candidates[flat_rows[: n * k], idx].reshape(n, k) + emissions[o : o + n]
        backpointers[o : o + n] = idx.reshape(n, k)
    final = score + end  # (N, K): each rank's score stopped growing at its last step
    last = final.argmax(axis=1)  # (N,)
    best = final[np.arange(len(last)), last]
    paths = np.empty(len(emissions), dtype=np.int64)
    paths[packed.ends] = last
    ranks = np.arange(len(last))
    for t in range(len(counts) - 1, 0, -1):  # ``last`` holds step t's label of the first counts[t] ranks
        n, o = counts[t], offsets[t]
        last[:n] = backpointers[o : o + n][ranks[:n], last[:n]]
        paths[offsets[t - 1] : offsets[t - 1] + n] = last[:n]
    return paths, best


def marginals_packed(
    emissions: np.ndarray, packed: Packing, trans: np.ndarray, start: np.ndarray, end: np.ndarray
) -> np.ndarray:
    """P(label = k | sentence) of every packed row by forward-backward, (total, K) float64.

    Runs in probability space with per-step normalisation (Rabiner's scaling): each
    step is an (N, K) x (K, K) matrix product instead of a logsumexp over (N, K, K),
    several times faster, and stable because every vector is rescaled to sum 1.
    Float64, because products of far-apart scores must not underflow.
    """
    trans, start, end = (x.astype(np.float64) for x in (trans, start, end))
    counts, offsets = packed.counts, packed.offsets
    emissions = emissions.astype(np.float64)
    trans_p = np.exp(trans - trans.max())  # (K, K); forbidden moves become 0
    trans_t = np.ascontiguousarray(trans_p.T)
    emit_p = np.exp(emissions - emissions.max(axis=1, keepdims=True))  # (total, K)
    alphas = np.empty_like(emit_p)
    alpha = np.exp(start - start.max()) * emit_p[: counts[0]]  # (N, K)
    alphas[: counts[0]] = alpha = alpha / alpha.sum(axis=1, keepdims=True)
    for t in range(1, len(counts)):
        n, o = counts[t], offsets[t]
        alpha = (alpha[:n] @ trans_p) * emit_p[o : o + n]
        alpha /= np.maximum(alpha.sum(axis=1, keepdims=True), 1e-300)
        alphas[o : o + n] = alpha
    end_p = np.exp(end - end.max())  # (K,)
    betas = np.empty_like(emit_p)
    beta = np.broadcast_to(end_p, (counts[0], len(end_p))).copy()  # (N, K): each rank's last step
    last = len(counts) - 1
    betas[offsets[last] : offsets[last] + counts[last]] = end_p
    for t in range(last - 1, -1, -1):
        n, o, running = counts[t], offsets[t], counts[t + 1]  # ranks past ``running`` end at t
        nxt = (emit_p[offsets[t + 1] : offsets[t + 1] + running] * beta[:running]) @ trans_t
        beta[:running] = nxt / np.maximum(nxt.sum(axis=1, keepdims=True), 1e-300)
        betas[o : o + n] = beta[:n]
    joint = alphas * betas  # (total, K), unnormalised
    return joint / np.maximum(joint.sum(axis=1, keepdims=True), 1e-300)  # type: ignore[no-any-return]


def viterbi(
    emissions: np.ndarray, mask: np.ndarray, trans: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Best paths (B, T) int64, 0 on padding, and their scores (B,), of a padded batch:
    emissions (B, T, K), mask (B, T) bool, true on each row's first ``length`` steps
    (a prefix, at least one step: ``packing`` refuses an empty row)."""
    packed = packing(mask.sum(axis=1))
    paths, best = viterbi_packed(_pack(emissions, mask, packed), packed, trans, start, end)
    out = np.zeros(mask.shape, dtype=np.int64)
    out[mask] = paths[packed.index]
    scores = np.empty_like(best)
    scores[packed.order] = best
    return out, scores


def marginals(
    emissions: np.ndarray, mask: np.ndarray, trans: np.ndarray, start: np.ndarray, end: np.ndarray
) -> np.ndarray:
    """``marginals_packed`` of a padded batch (as ``viterbi``): (B, T, K) float64, padding rows 0."""
    packed = packing(mask.sum(axis=1))
    probs = marginals_packed(_pack(emissions, mask, packed), packed, trans, start, end)
    out = np.zeros((*mask.shape, probs.shape[1]))
    out[mask] = probs[packed.index]
    return out


def _pack(emissions: np.ndarray, mask: np.ndarray, packed: Packing) -> np.ndarray:
    """A padded batch's real steps (B, T, K) -> (total, K) in packed order."""
    rows = np.empty((len(packed.index), emissions.shape[2]), dtype=emissions.dtype)
    rows[packed.index] = emissions[mask]  # row-major: sentence by sentence
    return rows


def decode_flat(
    scores: np.ndarray, lengths: np.ndarray, crf: tuple[np.ndarray, np.ndarray, np.ndarray] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Best labels (total,) and every label's probability (total, K) of sentences given
    one after another: ``scores`` (total, K) emission scores, ``lengths`` (N,) each at
    least 1. ``viterbi_packed`` and ``marginals_packed`` under ``crf`` (penalised
    transitions, start, end, as ``penalised`` gives them), or a softmax where ``crf`` is None."""
    if crf is None:
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        probs = shifted / shifted.sum(axis=1, keepdims=True)
        return probs.argmax(axis=1), probs
    packed = packing(lengths)
    rows = np.empty_like(scores)
    rows[packed.index] = scores
    paths, _ = viterbi_packed(rows, packed, *crf)
    probs = marginals_packed(rows, packed, *crf)
    return paths[packed.index], probs[packed.index]
