"""The sequence tagger: embeddings -> recurrent stack -> CRF or softmax head.

Shapes: B sentences, T time steps, N real tokens in the batch, L characters per word,
D features.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from tagger.batch import Batch
from tagger.config import ModelConfig
from tagger.crf import CRF
from tagger.vocab import CASINGS

Device = torch.device | str | None


def embedding(num: int, dim: int, device: Device = None) -> nn.Embedding:
    """An embedding table with row 0 for padding. On the meta device (shapes only) it is
    left uninitialised: random init of meta tensors goes through Python decompositions
    that cost about 70 MB of memory to import, for numbers that do not exist."""
    if device is not None and torch.device(device).type == "meta":
        return nn.Embedding(num, dim, padding_idx=0, _weight=torch.empty(num, dim, device=device))
    return nn.Embedding(num, dim, padding_idx=0, device=device)


class CharCNN(nn.Module):
    """Ma & Hovy (2016): char embeddings, one convolution, max over the word's positions."""

    def __init__(self, num_chars: int, char_dim: int, filters: int, kernel: int, device: Device = None) -> None:
        super().__init__()
        self.embed = embedding(num_chars, char_dim, device)
        self.conv = nn.Conv1d(char_dim, filters, kernel, padding=kernel // 2, device=device)
        self.kernel = kernel
        self.out_dim = filters

    def forward(self, chars: Tensor, lengths: Tensor) -> Tensor:
        # The convolution as one matrix product over character windows: with few
        # channels, this is several times faster on CPU than conv1d, and the same maths.
        n, length = chars.shape
        pad = self.kernel // 2
        x = nn.functional.pad(self.embed(chars), (0, 0, pad, pad))  # (N, L + 2p, C)
        # The first L windows: an even kernel gives one more, past the word's end (the
        # NumPy char CNN of tagger.portable takes the same L).
        windows = x.unfold(1, self.kernel, 1)[:, :length].reshape(n, length, -1)  # (N, L, C * k)
        h = nn.functional.linear(windows, self.conv.weight.reshape(self.out_dim, -1), self.conv.bias)  # (N, L, F)
        # Mask padded positions so a word's vector never depends on its batch-mates.
        valid = torch.arange(length, device=chars.device) < lengths.to(chars.device).unsqueeze(1)  # (N, L)
        h = h.masked_fill(~valid.unsqueeze(2), float("-inf"))
        return h.max(dim=1).values  # (N, F)


class CharLSTM(nn.Module):
    """Lample et al. (2016): final states of a BiLSTM over the characters."""

    def __init__(self, num_chars: int, char_dim: int, hidden: int, device: Device = None) -> None:
        super().__init__()
        self.embed = embedding(num_chars, char_dim, device)
        self.lstm = nn.LSTM(char_dim, hidden, batch_first=True, bidirectional=True, device=device)
        self.out_dim = 2 * hidden

    def forward(self, chars: Tensor, lengths: Tensor) -> Tensor:
        packed = pack_padded_sequence(self.embed(chars), lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)  # h: (2, N, H)
        return torch.cat([h[0], h[1]], dim=1)  # (N, 2H)


def make_rnn(config: ModelConfig, input_size: int, device: Device = None) -> nn.RNNBase:
    """One constructor for every cell type (as in pytorch/examples word_language_model)."""
    common: dict[str, Any] = {
        "device": device,
        "input_size": input_size,
        "hidden_size": config.hidden_size,
        "num_layers": config.num_layers,
        "bidirectional": config.bidirectional,
        "batch_first": True,
        "dropout": config.dropout if config.num_layers > 1 else 0.0,
    }
    if config.cell == "lstm":
        return nn.LSTM(**common)
    if config.cell == "gru":
        return nn.GRU(**common)
    if config.cell == "rnn":
        nonlinearity = "relu" if config.identity_init else config.rnn_nonlinearity
        rnn = nn.RNN(nonlinearity=nonlinearity, **common)
        if config.identity_init:
            for name, param in rnn.named_parameters():
                if name.startswith("weight_hh"):
                    nn.init.eye_(param)
                elif name.startswith("bias_hh"):
                    nn.init.zeros_(param)
        return rnn
    raise ValueError(f"unknown cell {config.cell!r}; expected lstm, gru or rnn")


class LockedDropout(nn.Module):
    """Dropout that drops the same features at every time step of a sequence: the
    network cannot make up for a dropped feature of one word from the same feature of
    its neighbours, so it learns not to lean on any one feature (Gal and Ghahramani
    2016; Merity et al. 2018 for language models)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:  # (B, T, D)
        if not self.training or self.p == 0:
            return x
        if self.p >= 1:
            return torch.zeros_like(x)
        keep = x.new_empty(x.size(0), 1, x.size(2)).bernoulli_(1 - self.p)  # (B, 1, D)
        return x * keep / (1 - self.p)


class SequenceTagger(nn.Module):
    def __init__(
        self,
        config: ModelConfig,
        num_words: int,
        num_chars: int,
        num_labels: int,
        constraints: tuple[Tensor, Tensor, Tensor] | None = None,
        device: Device = None,
    ) -> None:
        """``device="meta"`` builds the shapes without allocating (checked against a
        weights file before the real model is built); the CRF's few numbers stay on CPU."""
        super().__init__()
        self.config = config
        self.word_embed = embedding(num_words, config.word_dim, device)
        # Training only (``TrainConfig.vector_dropout``): each word's vector as the
        # pretrained file gave it, and which words have one. Never saved.
        self.register_buffer("original_vectors", None, persistent=False)
        self.register_buffer("has_original", None, persistent=False)
        features = config.word_dim
        self.case_embed: nn.Embedding | None = None
        if config.casing_dim > 0:
            casings = len(CASINGS) + int(config.sentence_casing)  # the last: ``vocab.UNCASED``
            self.case_embed = embedding(casings, config.casing_dim, device)
            features += config.casing_dim
        self.char_encoder: CharCNN | CharLSTM | None = None
        if config.char_encoder == "cnn":
            self.char_encoder = CharCNN(num_chars, config.char_dim, config.char_hidden, config.char_kernel, device)
        elif config.char_encoder == "lstm":
            self.char_encoder = CharLSTM(num_chars, config.char_dim, config.char_hidden, device)
        elif config.char_encoder != "none":
            raise ValueError(f"unknown char encoder {config.char_encoder!r}; expected cnn, lstm or none")
        if self.char_encoder is not None:
            features += self.char_encoder.out_dim
        self.dropout = LockedDropout(config.dropout) if config.locked_dropout else nn.Dropout(config.dropout)
        self.rnn = make_rnn(config, features, device)
        out = config.hidden_size * (2 if config.bidirectional else 1)
        self.emit = nn.Linear(out, num_labels, device=device)
        if config.head not in ("crf", "softmax"):
            raise ValueError(f"unknown head {config.head!r}; expected crf or softmax")
        self.crf = CRF(num_labels, constraints) if config.head == "crf" else None

    def load_pretrained(self, vectors: Tensor, rows: Tensor, keep_original: bool = False) -> None:
        """Copy ``vectors[i]`` into word row ``rows[i]`` (rows of a GloVe file);
        ``keep_original`` also keeps them unchanged beside the fine-tuned table, for
        ``Batch.original_words``."""
        weight = self.word_embed.weight
        with torch.no_grad():
            weight[rows] = vectors.to(weight.dtype)
        weight.requires_grad_(not self.config.freeze_embeddings)
        if keep_original:
            self.original_vectors = weight.detach().clone()  # (V, Dw)
            has = torch.zeros(weight.size(0), dtype=torch.bool, device=weight.device)
            has[rows.to(weight.device)] = True
            self.has_original = has  # (V,)

    def char_vectors(self, batch: Batch, rows: Tensor | None = None) -> Tensor:
        """Character vectors (U, Dc) of the batch's distinct words, or of those at ``rows``."""
        if self.char_encoder is None:
            raise ValueError("this model has no character encoder")
        chars, lengths = batch.chars, batch.char_lengths
        if rows is not None:
            lengths = lengths[rows]
            chars = chars[rows.to(chars.device), : int(lengths.max())]
        return self.char_encoder(chars, lengths)

    def features(self, batch: Batch, char_vectors: Tensor | None = None) -> Tensor:
        """Per-token input features (B, T, D) of the recurrent layers: word, casing and
        character vectors; ``char_vectors`` (U, Dc), when given, stand for the character
        encoder's output (the labeler's cache)."""
        words = self.word_embed(batch.words)  # (B, T, Dw)
        if batch.original_words is not None and self.original_vectors is not None:
            # Those of them whose word has a pretrained vector see it as the file gave
            # it, not fine-tuned: a word no training sentence has keeps its pretrained
            # vector, and the layers above learn to read that too.
            swap = batch.original_words & self.has_original[batch.words]  # (B, T)
            words = torch.where(swap.unsqueeze(2), self.original_vectors[batch.words], words)
        parts = [words]
        if self.case_embed is not None:
            parts.append(self.case_embed(batch.casings))
        if self.char_encoder is not None:
            per_word = self.char_vectors(batch) if char_vectors is None else char_vectors  # (U, Dc)
            per_token = per_word[batch.char_rows]  # (N, Dc)
            grid = per_token.new_zeros(*batch.words.shape, per_token.size(1))  # (B, T, Dc)
            grid[batch.mask] = per_token
            parts.append(grid)
        return torch.cat(parts, dim=2)  # (B, T, D)

    def emissions(self, batch: Batch, char_vectors: Tensor | None = None) -> Tensor:
        """Per-token label scores (B, T, K)."""
        x = self.dropout(self.features(batch, char_vectors))  # (B, T, D)
        packed = pack_padded_sequence(x, batch.lengths, batch_first=True, enforce_sorted=False)
        h, _ = self.rnn(packed)
        h, _ = pad_packed_sequence(h, batch_first=True, total_length=x.size(1))  # (B, T, H)
        return self.emit(self.dropout(h))  # (B, T, K)

    def forward(self, batch: Batch, distil_weight: float = 0.0) -> Tensor:
        """The training loss: what DistributedDataParallel calls (``tagger.distributed``)."""
        return self.loss(batch, distil_weight)

    def loss(self, batch: Batch, distil_weight: float = 0.0) -> Tensor:
        """The gold labels' negative log-likelihood (CRF: per sentence; softmax: per
        token), averaged. Where the batch carries teachers' label probabilities
        (``Batch.soft_labels``), plus ``distil_weight`` times the cross-entropy of the
        model's own per-token label probabilities against them, on the same scale."""
        if batch.labels is None:
            raise ValueError("loss needs a batch with labels")
        scores = self.emissions(batch).float()  # (B, T, K)
        distil = batch.soft_labels is not None and distil_weight > 0
        with torch.autocast(scores.device.type, enabled=False):  # the CRF's sums stay in float32
            if self.crf is None:
                loss = nn.functional.cross_entropy(scores[batch.mask], batch.labels[batch.mask])
                if not distil:
                    return loss
                log_probs = scores.log_softmax(dim=2)  # (B, T, K)
                per = int(batch.mask.sum())  # per token, as the likelihood is
            elif not distil:
                return self.crf.neg_log_likelihood(scores, batch.labels, batch.mask)
            else:  # one forward pass for the likelihood and the marginals
                log_probs, log_z = self.crf.log_marginals(scores, batch.mask)  # (B, T, K), (B,)
                loss = (log_z - self.crf.path_score(scores, batch.labels, batch.mask)).mean()
                per = len(scores)  # summed over each sentence's tokens, as the likelihood is
            assert batch.soft_labels is not None
            cross = -(batch.soft_labels * log_probs).sum(2)[batch.mask].sum() / per
            return loss + distil_weight * cross

    def decode(self, batch: Batch, char_vectors: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Best labels (B, T) and the probability of each chosen label (B, T)."""
        scores = self.emissions(batch, char_vectors)
        if self.crf is not None:
            paths, _ = self.crf.viterbi(scores, batch.mask)
            probs = self.crf.marginals(scores, batch.mask)
        else:
            probs = scores.softmax(dim=2)
            paths = probs.argmax(dim=2)
        confidence = probs.gather(2, paths.unsqueeze(2)).squeeze(2)
        return paths, confidence
