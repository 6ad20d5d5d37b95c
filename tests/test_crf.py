from __future__ import annotations

import itertools

import pytest
import torch

from tagger.crf import CRF, transition_constraints
from tagger.tags import TagScheme


def brute_force(crf: CRF, emissions: torch.Tensor, length: int) -> tuple[torch.Tensor, list[int], torch.Tensor]:
    """log Z, best path and marginals of one sentence by enumerating every path."""
    k = crf.num_labels
    paths = list(itertools.product(range(k), repeat=length))
    e = emissions[:length].unsqueeze(0).expand(len(paths), -1, -1)
    tags = torch.tensor(paths)
    mask = torch.ones(len(paths), length, dtype=torch.bool)
    scores = crf.path_score(e, tags, mask)
    log_z = torch.logsumexp(scores, 0)
    best = list(paths[int(scores.argmax())])
    probs = torch.exp(scores - log_z)
    marg = torch.zeros(length, k)
    for p, path in zip(probs, paths, strict=True):
        for t, label in enumerate(path):
            marg[t, label] += p
    return log_z, best, marg


@pytest.fixture
def crf() -> CRF:
    torch.manual_seed(0)
    model = CRF(3)
    with torch.no_grad():
        model.transitions.normal_()
        model.start.normal_()
        model.end.normal_()
    return model


def test_log_partition_viterbi_and_marginals_match_brute_force(crf: CRF) -> None:
    torch.manual_seed(1)
    emissions = torch.randn(2, 4, 3, dtype=torch.float64)
    crf = crf.double()
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    log_z = crf.log_partition(emissions, mask)
    paths, _ = crf.viterbi(emissions, mask)
    marginals = crf.marginals(emissions, mask)
    for i, length in enumerate([4, 2]):
        want_z, want_path, want_marg = brute_force(crf, emissions[i], length)
        assert log_z[i].item() == pytest.approx(want_z.item(), abs=1e-9)
        assert paths[i, :length].tolist() == want_path
        assert torch.allclose(marginals[i, :length], want_marg.double(), atol=1e-9)
        assert torch.allclose(marginals[i, :length].sum(1), torch.ones(length, dtype=torch.float64))
        assert marginals[i, length:].abs().sum() == 0


def test_nll_is_positive_and_differentiable(crf: CRF) -> None:
    emissions = torch.randn(3, 5, 3, requires_grad=True)
    tags = torch.randint(0, 3, (3, 5))
    mask = torch.ones(3, 5, dtype=torch.bool)
    loss = crf.neg_log_likelihood(emissions, tags, mask)
    loss.backward()
    assert loss.item() > 0
    assert emissions.grad is not None and emissions.grad.abs().sum() > 0


@pytest.mark.parametrize("scheme", [TagScheme.IOB2, TagScheme.BIOES])
def test_forbidden_transitions_are_never_decoded(scheme: TagScheme) -> None:
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    if scheme == TagScheme.BIOES:
        labels += ["E-PER", "S-PER", "E-LOC", "S-LOC"]
    constraints = transition_constraints(labels, scheme)
    crf = CRF(len(labels), constraints)
    torch.manual_seed(2)
    # Emissions that strongly prefer I- tags everywhere: an unconstrained decoder would
    # start with I-PER and jump between types.
    emissions = torch.randn(64, 7, len(labels))
    emissions[:, :, labels.index("I-PER")] += 5
    emissions[:, ::2, labels.index("I-LOC")] += 8
    lengths = torch.randint(1, 8, (64,))
    mask = torch.arange(7).unsqueeze(0) < lengths.unsqueeze(1)
    paths, _ = crf.viterbi(emissions, mask)
    allowed, start, end = constraints
    for row, n in zip(paths.tolist(), lengths.tolist(), strict=True):
        seq = row[:n]
        assert start[seq[0]], [labels[i] for i in seq]
        assert end[seq[-1]], [labels[i] for i in seq]
        for a, b in itertools.pairwise(seq):
            assert allowed[a, b], [labels[i] for i in seq]
    # Marginals put (almost) no mass on a forbidden start.
    marg = crf.marginals(emissions, mask)
    assert marg[:, 0, labels.index("I-PER")].max() < 1e-6


def test_marginals_survive_far_apart_scores_in_float32() -> None:
    labels = ["O", "B-PER", "I-PER"]
    crf = CRF(3, transition_constraints(labels, TagScheme.IOB2))
    # The first token strongly prefers O, the second I-PER (which cannot follow O):
    # the probable paths are B-PER I-PER; scores this far apart underflowed float32 products.
    emissions = torch.tensor([[[120.0, 100.0, 0.0], [0.0, 0.0, 110.0]]])
    mask = torch.ones(1, 2, dtype=torch.bool)
    marginals = crf.marginals(emissions, mask)
    assert marginals.dtype == torch.float32
    assert torch.allclose(marginals.sum(2), torch.ones(1, 2))
    paths, _ = crf.viterbi(emissions, mask)
    assert paths.tolist() == [[1, 2]]
    assert marginals[0, 0, 1].item() == pytest.approx(1.0, abs=1e-4)


def test_log_marginals_match_brute_force_and_train_the_emissions(crf: CRF) -> None:
    torch.manual_seed(2)
    crf = crf.double()
    emissions = torch.randn(3, 4, 3, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=torch.bool)
    log_probs, log_z = crf.log_marginals(emissions, mask)
    assert torch.allclose(log_z, crf.log_partition(emissions, mask))
    for i, length in enumerate([4, 2, 1]):
        _, _, want = brute_force(crf, emissions[i].detach(), length)
        assert torch.allclose(log_probs[i, :length].exp(), want.double(), atol=1e-9)
    # A target on the first token of sentence 1 pulls that token's scores, not sentence 0's.
    (-log_probs[1, 0, 2]).backward()
    assert emissions.grad is not None
    assert emissions.grad[1, 0, 2] < 0 and emissions.grad[0].abs().sum() == 0
    assert emissions.grad[1, 2:].abs().sum() == 0  # padding gets no gradient
