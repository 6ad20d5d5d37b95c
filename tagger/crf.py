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

from tagger.crf_decode import FORBIDDEN, constraint_masks, marginals, viterbi
from tagger.tags import TagScheme


def transition_constraints(labels: Sequence[str], scheme: TagScheme) -> tuple[Tensor, Tensor, Tensor]:
    """Boolean masks of allowed ``(from, to)`` transitions, start labels and end labels."""
    allowed, start, end = constraint_masks(labels, scheme)
    return torch.from_numpy(allowed), torch.from_numpy(start), torch.from_numpy(end)


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

    def _forward(self, emissions: Tensor, mask: Tensor) -> list[Tensor]:
        """Forward scores alpha_t (B, K) for every step t: log-sum of the scores of all
        paths that end in label k at t (kept unchanged past a sentence's end)."""
        trans, start, _ = self._scores()
        alphas = [start + emissions[:, 0]]  # (B, K)
        for t in range(1, emissions.size(1)):
            # (B, K_from, 1) + (K_from, K_to) + (B, 1, K_to) -> logsumexp over from
            nxt = torch.logsumexp(alphas[-1].unsqueeze(2) + trans + emissions[:, t].unsqueeze(1), dim=1)
            alphas.append(torch.where(mask[:, t].unsqueeze(1), nxt, alphas[-1]))
        return alphas

    def log_partition(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """log Z per sentence. emissions (B, T, K), mask (B, T) bool, first column all true."""
        return torch.logsumexp(self._forward(emissions, mask)[-1] + self._scores()[2], dim=1)  # (B,)

    def log_marginals(self, emissions: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """log P(label_t = k | sentence) (B, T, K) by forward-backward in torch, so that
        a loss on them trains the network (distillation; ``marginals`` is the NumPy one
        for inference), and log Z (B,) from the same forward pass. Padding rows hold
        meaningless finite numbers: mask them."""
        trans, _, end = self._scores()
        alphas = self._forward(emissions, mask)
        log_z = torch.logsumexp(alphas[-1] + end, dim=1)  # (B,)
        beta = end.expand_as(alphas[0])  # (B, K): nothing follows the last step
        betas = [beta]
        for t in range(emissions.size(1) - 2, -1, -1):
            # (K_from, K_to) + (B, 1, K_to) -> logsumexp over to
            nxt = torch.logsumexp(trans + (emissions[:, t + 1] + beta).unsqueeze(1), dim=2)
            # the last real step of a sentence is followed by its end score only
            beta = torch.where(mask[:, t + 1].unsqueeze(1), nxt, end.expand_as(nxt))
            betas.append(beta)
        betas.reverse()
        return torch.stack(alphas, 1) + torch.stack(betas, 1) - log_z[:, None, None], log_z  # (B, T, K), (B,)

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


def _numpy(x: Tensor) -> np.ndarray:
    return x.detach().cpu().numpy()
