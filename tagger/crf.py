"""Linear-chain CRF: log-likelihood, Viterbi, forward-backward marginals.

Everything is vectorised over the batch and the label set; the only Python loop runs
over time steps. Transitions that the tag scheme forbids (``I-PER`` after ``O`` in
IOB2) carry a large negative score, so they are never decoded and never learned.
Shapes: B batch, T time, K labels.
"""

from __future__ import annotations

from collections.abc import Sequence

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
        trans, start, end = self._scores()
        batch, steps, _ = emissions.shape
        # Steps where every sentence is still running need no masking; batches are
        # grouped by length, so that is most steps (and saves two ops per step).
        full = mask.all(dim=0).tolist()  # (T,)
        active = mask.unsqueeze(2)  # (B, T, 1)
        # Past a sentence's end the pointer is the identity, so backtracking passes through.
        identity = torch.arange(self.num_labels, device=emissions.device).expand(batch, -1)  # (B, K)
        score = start + emissions[:, 0]  # (B, K)
        backpointers = []
        for t in range(1, steps):
            best, idx = (score.unsqueeze(2) + trans).max(dim=1)  # (B, K_to)
            nxt = best + emissions[:, t]
            if full[t]:
                score = nxt
            else:
                score = torch.where(active[:, t], nxt, score)
                idx = torch.where(active[:, t], idx, identity)
            backpointers.append(idx)
        final = score + end
        best_score, last = final.max(dim=1)  # (B,)
        path = [last]
        for bp in reversed(backpointers):
            last = bp.gather(1, last.unsqueeze(1)).squeeze(1)
            path.append(last)
        paths = torch.stack(path[::-1], dim=1)  # (B, T)
        return paths * mask.long(), best_score

    def marginals(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """P(label_t = k | sentence) by forward-backward, (B, T, K); padding rows are 0.

        Runs in probability space with per-step normalisation (Rabiner's scaling): each
        step is a (B, K) x (K, K) matrix product instead of a logsumexp over (B, K, K),
        several times faster, and stable because every vector is rescaled to sum 1.
        """
        trans, start, end = (x.double() for x in self._scores())
        dtype, emissions = (
            emissions.dtype,
            emissions.double(),
        )  # float64: products of far-apart scores must not underflow
        steps = emissions.size(1)
        trans_p = torch.exp(trans - trans.max())  # (K, K); forbidden moves become 0
        emit_p = torch.exp(emissions - emissions.max(dim=2, keepdim=True).values)  # (B, T, K)
        alpha = torch.exp(start - start.max()) * emit_p[:, 0]  # (B, K)
        alpha = alpha / alpha.sum(1, keepdim=True)
        alphas = [alpha]
        full = mask.all(dim=0).tolist()  # (T,) steps with no sentence ended yet skip the masking
        active = mask.unsqueeze(2)  # (B, T, 1)
        for t in range(1, steps):
            nxt = (alpha @ trans_p) * emit_p[:, t]
            nxt = nxt / nxt.sum(1, keepdim=True).clamp_min(1e-300)
            alpha = nxt if full[t] else torch.where(active[:, t], nxt, alpha)
            alphas.append(alpha)
        end_p = torch.exp(end - end.max()).expand_as(alpha)  # (B, K)
        beta = end_p
        betas = [beta]
        for t in range(steps - 2, -1, -1):
            nxt = (emit_p[:, t + 1] * beta) @ trans_p.t()
            nxt = nxt / nxt.sum(1, keepdim=True).clamp_min(1e-300)
            beta = nxt if full[t + 1] else torch.where(active[:, t + 1], nxt, end_p)
            betas.append(beta)
        joint = torch.stack(alphas, dim=1) * torch.stack(betas[::-1], dim=1)  # (B, T, K), unnormalised
        probs = joint / joint.sum(2, keepdim=True).clamp_min(1e-300)
        return (probs * mask.unsqueeze(2)).to(dtype)
