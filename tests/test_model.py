from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from tagger.batch import encode
from tagger.checkpoint import build_model
from tagger.config import Config, ModelConfig
from tagger.model import CharCNN, CharLSTM, LockedDropout, SequenceTagger, make_rnn
from tagger.tags import TagScheme, validate
from tagger.vocab import Vocab, build_vocab

LABELS = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "S-LOC"]
SENTENCES = [["Peter", "Blackburn", "lives", "in", "Berlin", "."], ["John", "sat"], ["hippopotamus"]]


@pytest.fixture
def vocab() -> Vocab:
    return build_vocab([t for s in SENTENCES for t in s], LABELS, min_count=1)


def small_config(**model: Any) -> Config:
    config = Config()
    config.model.word_dim = 6
    config.model.casing_dim = 3
    config.model.char_dim = 5
    config.model.char_hidden = 4
    config.model.hidden_size = 8
    config.model.dropout = 0.0
    for key, value in model.items():
        setattr(config.model, key, value)
    return config


def small_model(vocab: Vocab, **model: Any) -> SequenceTagger:
    torch.manual_seed(0)
    tagger = build_model(small_config(**model), vocab, TagScheme.BIOES)
    tagger.eval()
    return tagger


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"head": "softmax"},
        {"char_encoder": "lstm"},
        {"char_encoder": "none", "casing_dim": 0},
        {"cell": "gru", "num_layers": 2, "bidirectional": False},
        {"cell": "rnn"},
    ],
    ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()) or "default",
)
def test_emissions_shape(vocab: Vocab, options: dict[str, Any]) -> None:
    model = small_model(vocab, **options)
    batch = encode(SENTENCES, vocab, 32)
    with torch.no_grad():
        scores = model.emissions(batch)
    assert scores.shape == (3, 6, len(LABELS))
    assert torch.isfinite(scores).all()


@pytest.mark.parametrize("head", ["crf", "softmax"])
def test_decode_paths_and_probabilities(vocab: Vocab, head: str) -> None:
    model = small_model(vocab, head=head)
    batch = encode(SENTENCES, vocab, 32)
    with torch.no_grad():
        paths, confidence = model.decode(batch)
    assert paths.shape == (3, 6)
    assert confidence.shape == (3, 6)
    assert paths.dtype == torch.long
    real = batch.mask
    assert ((paths[real] >= 0) & (paths[real] < len(LABELS))).all()
    assert ((confidence[real] >= 0.0) & (confidence[real] <= 1.0 + 1e-6)).all()


def test_crf_decode_paths_are_well_formed(vocab: Vocab) -> None:
    model = small_model(vocab)
    batch = encode(SENTENCES, vocab, 32)
    with torch.no_grad():
        paths, _ = model.decode(batch)
    for row, length in enumerate(batch.lengths.tolist()):
        tags = [vocab.labels[i] for i in paths[row, :length].tolist()]
        assert validate(tags, TagScheme.BIOES) == [], tags


def test_sentence_scores_do_not_depend_on_batch_mates(vocab: Vocab) -> None:
    model = small_model(vocab)
    with torch.no_grad():
        alone = model.emissions(encode([SENTENCES[1]], vocab, 32))
        together = model.emissions(encode(SENTENCES, vocab, 32))
    torch.testing.assert_close(together[1, :2], alone[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("encoder", ["cnn", "lstm"])
def test_char_vector_independent_of_batch_mates(vocab: Vocab, encoder: str) -> None:
    model = small_model(vocab, char_encoder=encoder, char_kernel=5)
    short = encode([["sat"]], vocab, 32)
    mixed = encode([["hippopotamus", "sat", "in"]], vocab, 32)
    assert mixed.chars.shape[1] == len("hippopotamus")  # "sat" is padded in this batch
    with torch.no_grad():
        alone = model.char_vectors(short)
        with_mates = model.char_vectors(mixed)
        subset = model.char_vectors(mixed, torch.tensor([mixed.distinct.index("sat")]))
    row = mixed.distinct.index("sat")
    torch.testing.assert_close(with_mates[row], alone[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(subset[0], alone[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kernel", [3, 4])
def test_char_cnn_matches_conv1d(kernel: int) -> None:
    """An even kernel (the config allows one) once crashed here: its padding gives one
    window more than the word has characters, and the first ones are kept."""
    torch.manual_seed(0)
    cnn = CharCNN(num_chars=10, char_dim=4, filters=6, kernel=kernel)
    chars = torch.tensor([[2, 3, 4, 5], [6, 7, 0, 0]])
    lengths = torch.tensor([4, 2])
    with torch.no_grad():
        got = cnn(chars, lengths)
        for i, n in enumerate(lengths.tolist()):
            x = cnn.embed(chars[i : i + 1, :n]).transpose(1, 2)  # (1, C, n)
            ref = cnn.conv(x)[:, :, :n].max(dim=2).values[0]
            torch.testing.assert_close(got[i], ref, rtol=1e-5, atol=1e-6)
    assert got.shape == (2, 6)


def test_char_lstm_output_width() -> None:
    lstm = CharLSTM(num_chars=10, char_dim=4, hidden=3)
    assert lstm.out_dim == 6
    out = lstm(torch.tensor([[2, 3, 0], [4, 5, 6]]), torch.tensor([2, 3]))
    assert out.shape == (2, 6)


@pytest.mark.parametrize(("cell", "kind"), [("lstm", nn.LSTM), ("gru", nn.GRU), ("rnn", nn.RNN)])
def test_make_rnn_cells(cell: str, kind: type[nn.RNNBase]) -> None:
    config = ModelConfig(cell=cell, hidden_size=8, num_layers=2, dropout=0.25)  # type: ignore[arg-type]
    rnn = make_rnn(config, 5)
    assert type(rnn) is kind
    assert (rnn.input_size, rnn.hidden_size, rnn.num_layers) == (5, 8, 2)
    assert rnn.bidirectional and rnn.batch_first
    assert rnn.dropout == 0.25


def test_make_rnn_single_layer_has_no_dropout() -> None:
    rnn = make_rnn(ModelConfig(hidden_size=8, num_layers=1, dropout=0.5), 5)
    assert rnn.dropout == 0.0


def test_make_rnn_vanilla_nonlinearity_and_identity_init() -> None:
    assert make_rnn(ModelConfig(cell="rnn", hidden_size=4, rnn_nonlinearity="relu"), 3).nonlinearity == "relu"
    assert make_rnn(ModelConfig(cell="rnn", hidden_size=4), 3).nonlinearity == "tanh"
    irnn = make_rnn(ModelConfig(cell="rnn", hidden_size=4, identity_init=True), 3)
    assert irnn.nonlinearity == "relu"
    params = dict(irnn.named_parameters())
    torch.testing.assert_close(params["weight_hh_l0"].detach(), torch.eye(4))
    assert torch.count_nonzero(params["bias_hh_l0"]).item() == 0


def test_make_rnn_unknown_cell() -> None:
    config = ModelConfig(hidden_size=8)
    object.__setattr__(config, "cell", "transformer")  # past validation, as a hand-built config could be
    with pytest.raises(ValueError, match=r"unknown cell 'transformer'; expected lstm, gru or rnn"):
        make_rnn(config, 5)


def test_unknown_char_encoder_and_head(vocab: Vocab) -> None:
    config = small_config().model
    object.__setattr__(config, "char_encoder", "bert")
    with pytest.raises(ValueError, match=r"unknown char encoder 'bert'; expected cnn, lstm or none"):
        SequenceTagger(config, 10, 10, 3)
    config = small_config().model
    object.__setattr__(config, "head", "mlp")
    with pytest.raises(ValueError, match=r"unknown head 'mlp'; expected crf or softmax"):
        SequenceTagger(config, 10, 10, 3)


def test_loss_needs_labels(vocab: Vocab) -> None:
    model = small_model(vocab)
    with pytest.raises(ValueError, match=r"^loss needs a batch with labels$"):
        model.loss(encode(SENTENCES, vocab, 32))


@pytest.mark.parametrize("head", ["crf", "softmax"])
def test_loss_is_a_positive_scalar(vocab: Vocab, head: str) -> None:
    model = small_model(vocab, head=head)
    tags = [["S-PER", "O", "O", "O", "S-LOC", "O"], ["S-PER", "O"], ["O"]]
    loss = model.loss(encode(SENTENCES, vocab, 32, tags))
    assert loss.dim() == 0
    assert loss.item() > 0
    loss.backward()
    assert model.emit.weight.grad is not None


def test_char_vectors_without_char_encoder(vocab: Vocab) -> None:
    model = small_model(vocab, char_encoder="none")
    assert model.char_encoder is None
    with pytest.raises(ValueError, match=r"^this model has no character encoder$"):
        model.char_vectors(encode(SENTENCES, vocab, 32))


def test_load_pretrained_copies_rows_and_freezes(vocab: Vocab) -> None:
    model = small_model(vocab, freeze_embeddings=True)
    vectors = torch.arange(12, dtype=torch.float32).reshape(2, 6)
    rows = torch.tensor([vocab.word_index["peter"], vocab.word_index["in"]])
    model.load_pretrained(vectors, rows)
    torch.testing.assert_close(model.word_embed.weight[rows].detach(), vectors)
    assert model.word_embed.weight.requires_grad is False


def test_tokens_marked_original_see_the_pretrained_vector_and_others_the_fine_tuned_one(vocab: Vocab) -> None:
    model = small_model(vocab)
    vectors = torch.arange(12, dtype=torch.float32).reshape(2, 6)
    rows = torch.tensor([vocab.word_index["peter"], vocab.word_index["berlin"]])
    model.load_pretrained(vectors, rows, keep_original=True)
    with torch.no_grad():
        model.word_embed.weight.add_(100.0)  # what fine-tuning would do, exaggerated
    batch = encode(SENTENCES[:1], vocab, 32)  # Peter Blackburn lives in Berlin .
    batch.original_words = torch.tensor([[True, True, False, False, True, False]])
    words = model.features(batch)[0, :, :6]  # (T, Dw)
    torch.testing.assert_close(words[0], vectors[0])  # Peter: the file's vector
    torch.testing.assert_close(words[4], vectors[1])  # Berlin: the file's vector
    fine_tuned = model.word_embed.weight.detach()
    # Blackburn has no pretrained vector: marked or not, its own (fine-tuned) row; "in" unmarked.
    torch.testing.assert_close(words[1], fine_tuned[vocab.word_index["blackburn"]])
    torch.testing.assert_close(words[3], fine_tuned[vocab.word_index["in"]])
    assert model.has_original is not None and model.has_original.sum().item() == 2
    assert "original_vectors" not in model.state_dict() and "has_original" not in model.state_dict()


def test_locked_dropout_drops_the_same_features_at_every_word() -> None:
    torch.manual_seed(0)
    dropout = LockedDropout(0.5)
    x = torch.ones(4, 7, 64)  # (B, T, D)
    out = dropout(x)
    assert set(out.unique().tolist()) == {0.0, 2.0}  # dropped, or kept and scaled by 1 / (1 - p)
    assert torch.equal(out, out[:, :1].expand_as(out))  # one mask per sentence, every word
    assert not torch.equal(out[0], out[1])  # each sentence its own
    plain = nn.Dropout(0.5)(x)
    assert not torch.equal(plain, plain[:, :1].expand_as(plain))  # torch's: a mask per word
    dropout.eval()
    assert torch.equal(dropout(x), x)


def test_locked_dropout_is_the_models_when_configured(vocab: Vocab) -> None:
    assert isinstance(small_model(vocab, locked_dropout=True).dropout, LockedDropout)
    assert isinstance(small_model(vocab).dropout, nn.Dropout)
