"""Decoding a linear-chain CRF in NumPy: Viterbi paths and forward-backward marginals,
and the transitions a tag scheme forbids. No torch: the ONNX backend decodes with this
alone, and ``tagger.crf`` (training, the torch backend) calls the same functions.

Inference runs in NumPy: the loops over time steps do a handful of operations on
(B, K) arrays of a few hundred numbers, where a torch call costs several microseconds
of dispatch, all of it holding the GIL that the server's other threads need; NumPy
gives identical results for less of both. Training keeps the torch methods of
``tagger.crf``, which autograd needs. Shapes: B batch, T time, K labels.
"""

from __future__ import annotations

from collections.abc import Sequence

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


def viterbi(
    emissions: np.ndarray, mask: np.ndarray, trans: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Best paths (B, T) int64, 0 on padding, and their scores (B,).

    emissions (B, T, K); mask (B, T) bool with the first column true; trans (K_from,
    K_to), start and end (K,) including the penalties of forbidden moves.
    """
    batch, steps, k = emissions.shape
    emissions = emissions.astype(trans.dtype, copy=False)
    # Steps where every sentence is still running need no masking; batches are
    # grouped by length, so that is most steps.
    full: list[bool] = np.asarray(mask.all(axis=0)).tolist()  # (T,)
    # Past a sentence's end the pointer is the identity, so backtracking passes through.
    identity = np.broadcast_to(np.arange(k), (batch, k))  # (B, K)
    into = np.ascontiguousarray(trans.T)  # (K_to, K_from): reductions run over the last axis
    flat_rows = np.arange(batch * k)
    score = start + emissions[:, 0]  # (B, K)
    backpointers = np.empty((steps, batch, k), dtype=np.int64)  # row 0 unused
    for t in range(1, steps):
        candidates = (score[:, None, :] + into).reshape(batch * k, k)  # (B * K_to, K_from)
        idx = candidates.argmax(axis=1)  # (B * K_to,)
        nxt = candidates[flat_rows, idx].reshape(batch, k) + emissions[:, t]  # (B, K_to)
        idx = idx.reshape(batch, k)
        if full[t]:
            score = nxt
        else:
            active = mask[:, t, None]  # (B, 1)
            score = np.where(active, nxt, score)
            idx = np.where(active, idx, identity)
        backpointers[t] = idx
    final = score + end  # (B, K)
    last = final.argmax(axis=1)  # (B,)
    best = final[np.arange(batch), last]
    paths = np.empty((batch, steps), dtype=np.int64)
    paths[:, -1] = last
    rows = np.arange(batch)
    for t in range(steps - 1, 0, -1):
        last = backpointers[t, rows, last]
        paths[:, t - 1] = last
    return paths * mask, best


def marginals(
    emissions: np.ndarray, mask: np.ndarray, trans: np.ndarray, start: np.ndarray, end: np.ndarray
) -> np.ndarray:
    """P(label_t = k | sentence) by forward-backward, (B, T, K) float64; padding rows 0.

    Runs in probability space with per-step normalisation (Rabiner's scaling): each
    step is a (B, K) x (K, K) matrix product instead of a logsumexp over (B, K, K),
    several times faster, and stable because every vector is rescaled to sum 1.
    Float64, because products of far-apart scores must not underflow.
    """
    emissions = emissions.astype(np.float64)
    steps = emissions.shape[1]
    trans_p = np.exp(trans - trans.max())  # (K, K); forbidden moves become 0
    trans_t = np.ascontiguousarray(trans_p.T)
    emit_p = np.exp(emissions - emissions.max(axis=2, keepdims=True))  # (B, T, K)
    full: list[bool] = np.asarray(mask.all(axis=0)).tolist()  # (T,) steps with no sentence ended yet skip the masking
    alphas = np.empty_like(emit_p)
    alpha = np.exp(start - start.max()) * emit_p[:, 0]  # (B, K)
    alphas[:, 0] = alpha = alpha / alpha.sum(axis=1, keepdims=True)
    for t in range(1, steps):
        nxt = (alpha @ trans_p) * emit_p[:, t]
        nxt /= np.maximum(nxt.sum(axis=1, keepdims=True), 1e-300)
        alphas[:, t] = alpha = nxt if full[t] else np.where(mask[:, t, None], nxt, alpha)
    end_p = np.broadcast_to(np.exp(end - end.max()), alpha.shape)  # (B, K)
    betas = np.empty_like(emit_p)
    betas[:, -1] = beta = end_p
    for t in range(steps - 2, -1, -1):
        nxt = (emit_p[:, t + 1] * beta) @ trans_t
        nxt /= np.maximum(nxt.sum(axis=1, keepdims=True), 1e-300)
        betas[:, t] = beta = nxt if full[t + 1] else np.where(mask[:, t + 1, None], nxt, end_p)
    joint = alphas * betas  # (B, T, K), unnormalised
    probs = joint / np.maximum(joint.sum(axis=2, keepdims=True), 1e-300)
    return probs * mask[:, :, None]


def decode_probs(
    scores: np.ndarray, mask: np.ndarray, crf: tuple[np.ndarray, np.ndarray, np.ndarray] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Best labels (B, T) and every label's probability (B, T, K), from emission scores
    (B, T, K): Viterbi and forward-backward marginals under ``crf`` (penalised
    transitions, start, end, as ``penalised`` gives them), or a softmax head's argmax
    where ``crf`` is None."""
    if crf is not None:
        trans, start, end = crf
        paths, _ = viterbi(scores, mask, trans, start, end)
        return paths, marginals(scores, mask, *(x.astype(np.float64) for x in crf))
    shifted = np.exp(scores - scores.max(axis=2, keepdims=True))
    probs = shifted / shifted.sum(axis=2, keepdims=True)
    return probs.argmax(axis=2), probs


def chosen_probability(paths: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """The probability of each chosen label (B, T) float32."""
    return np.take_along_axis(probs, paths[:, :, None], axis=2)[:, :, 0].astype(np.float32)


def decode_scores(
    scores: np.ndarray, mask: np.ndarray, crf: tuple[np.ndarray, np.ndarray, np.ndarray] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Best labels (B, T) and the probability of each (B, T) float32 (see ``decode_probs``)."""
    paths, probs = decode_probs(scores, mask, crf)
    return paths, chosen_probability(paths, probs)
