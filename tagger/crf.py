"""Linear-chain CRF: log-likelihood, Viterbi, forward-backward marginals.

Everything is vectorised over the batch and the label set; the only Python loop runs
over time steps. Transitions that the tag scheme forbids (``I-PER`` after ``O`` in
IOB2) carry a large negative score, so they are never decoded and never learned.
Shapes: B batch, T time, K labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from tagger.tags import TagScheme, is_allowed, is_allowed_end

FORBIDDEN = -1e4  # finite, so logsumexp never sees inf - inf


def transition_constraints(labels: Sequence[str], scheme: TagScheme) -> tuple[Tensor, Tensor, Tensor]:
    """Boolean masks of allowed ``(from, to)`` transitions, start labels and end labels."""
    k = len(labels)
    allowed = torch.ones(k, k, dtype=torch.bool)
    start = torch.ones(k, dtype=torch.bool)
    end = torch.ones(k, dtype=torch.bool)
    if scheme in (TagScheme.IOB2, TagScheme.BIOES):
        for i, a in enumerate(labels):
            start[i] = is_allowed("O", a, scheme)
            end[i] = is_allowed_end(a, scheme)
            for j, b in enumerate(labels):
                allowed[i, j] = is_allowed(a, b, scheme)
    return allowed, start, end


class CRF(nn.Module):
    """CRF over ``num_labels`` labels with optional transition constraints."""

    def __init__(self, num_labels: int, constraints: tuple[Tensor, Tensor, Tensor] | None = None) -> None:
        super().__init__()
        self.num_labels = num_labels
        self.transitions = nn.Parameter(torch.zeros(num_labels, num_labels))  # (from K, to K)
        self.start = nn.Parameter(torch.zeros(num_labels))
        self.end = nn.Parameter(torch.zeros(num_labels))
        if constraints is None:
            ones = torch.ones(num_labels, dtype=torch.bool)
            constraints = (torch.ones(num_labels, num_labels, dtype=torch.bool), ones, ones)
        allowed, start_ok, end_ok = constraints
        self._trans_penalty: Tensor
        self._start_penalty: Tensor
        self._end_penalty: Tensor
        # Buffers are not persistent: they are derived from labels and scheme at load time.
        self.register_buffer("_trans_penalty", (~allowed).float() * FORBIDDEN, persistent=False)
        self.register_buffer("_start_penalty", (~start_ok).float() * FORBIDDEN, persistent=False)
        self.register_buffer("_end_penalty", (~end_ok).float() * FORBIDDEN, persistent=False)

    def _scores(self) -> tuple[Tensor, Tensor, Tensor]:
        return (
            self.transitions + self._trans_penalty,
            self.start + self._start_penalty,
            self.end + self._end_penalty,
        )

    def log_partition(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """log Z per sentence. emissions (B, T, K), mask (B, T) bool, first column all true."""
        trans, start, end = self._scores()
        alpha = start + emissions[:, 0]  # (B, K)
        for t in range(1, emissions.size(1)):
            # (B, K_from, 1) + (K_from, K_to) + (B, 1, K_to) -> logsumexp over from
            nxt = torch.logsumexp(alpha.unsqueeze(2) + trans + emissions[:, t].unsqueeze(1), dim=1)
            alpha = torch.where(mask[:, t].unsqueeze(1), nxt, alpha)
        return torch.logsumexp(alpha + end, dim=1)  # (B,)

    def path_score(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """Score of the given label paths. tags (B, T) long; padding positions ignored."""
        trans, start, end = self._scores()
        maskf = mask.float()
        emit = emissions.gather(2, tags.unsqueeze(2)).squeeze(2) * maskf  # (B, T)
        step = trans[tags[:, :-1], tags[:, 1:]] * maskf[:, 1:]  # (B, T-1)
        lengths = mask.sum(1)  # (B,)
        last = tags.gather(1, (lengths - 1).unsqueeze(1)).squeeze(1)  # (B,)
        return start[tags[:, 0]] + emit.sum(1) + step.sum(1) + end[last]

    def neg_log_likelihood(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """Mean negative log-likelihood over the batch."""
        return (self.log_partition(emissions, mask) - self.path_score(emissions, tags, mask)).mean()

    def viterbi(self, emissions: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Best paths (B, T) (padding positions hold 0) and their scores (B,)."""
        trans, start, end = (x.detach().cpu().numpy() for x in self._scores())
        paths, scores = viterbi(_numpy(emissions), mask.cpu().numpy(), trans, start, end)
        return torch.from_numpy(paths).to(emissions.device), torch.from_numpy(scores).to(emissions.device)

    def marginals(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """P(label_t = k | sentence) by forward-backward, (B, T, K); padding rows are 0."""
        trans, start, end = (x.detach().cpu().double().numpy() for x in self._scores())
        probs = marginals(_numpy(emissions), mask.cpu().numpy(), trans, start, end)
        return torch.from_numpy(probs).to(emissions.device, emissions.dtype)


# Inference runs in NumPy: the loops over time steps do a handful of operations on
# (B, K) arrays of a few hundred numbers, where a torch call costs several microseconds
# of dispatch, all of it holding the GIL that the server's other threads need; NumPy
# gives identical results for less of both. Training keeps the torch methods above,
# which autograd needs.


def _numpy(x: Tensor) -> np.ndarray:
    return x.detach().cpu().numpy()


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
