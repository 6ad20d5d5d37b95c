"""The Predictor: the one inference path of the project.

It loads model directories once, picks the device and thread count once, sorts
sentences by length, batches them by a token budget, and returns per token a label and
its probability (CRF marginal or softmax) for every model. The HTTP service, the batch
command and ``tagger evaluate`` all call it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from tagger import checkpoint
from tagger.batch import encode, token_budget_batches
from tagger.charcache import CharFeatureCache
from tagger.checkpoint import LoadedModel
from tagger.documents import Entity, TaggedDocument, TaggedToken, TokenLabel
from tagger.errors import TaggerError
from tagger.tags import TagScheme, convert, spans_from_tags
from tagger.tokenize import Token, tokenize

OUTPUT_SCHEME = TagScheme.IOB2  # entity labels leave the predictor in IOB2
MAX_SENTENCE_TOKENS = 256  # longer sentences are cut (training sentences stay under 130 tokens)
CHAR_CACHE_WORDS = 50_000  # distinct words whose character vectors each model keeps (10-20 MB)


@dataclass
class PreparedDocument:
    """A document's text and its sentences of tokens with offsets."""

    text: str
    sentences: list[list[Token]]

    @property
    def num_tokens(self) -> int:
        return sum(len(s) for s in self.sentences)


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity, which containers often narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def pick_device(device: str | None = None) -> torch.device:
    """``cuda`` when available unless told otherwise."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError:
        raise TaggerError(f"unknown device {device!r}; expected auto, cpu, cuda or cuda:N") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise TaggerError(f"device {device!r} requested but CUDA is not available")
    return chosen


class Predictor:
    """Runs one or more loaded models over the same sentences."""

    def __init__(
        self,
        models: Sequence[LoadedModel],
        device: torch.device,
        batch_tokens: int = 4096,
        parallel_models: bool = False,
        char_cache: int = CHAR_CACHE_WORDS,
    ) -> None:
        if not models:
            raise TaggerError("no model given")
        names = [m.name for m in models]
        if len(set(names)) != len(names):
            raise TaggerError(f"model names must be unique, got {names}")
        self.models = {m.name: m for m in models}
        self.device = device
        self.batch_tokens = batch_tokens
        self._char_caches = {
            m.name: CharFeatureCache(m.model.char_encoder, m.model.char_encoder.out_dim, char_cache, device)
            for m in models
            if m.model.char_encoder is not None and char_cache > 0
        }
        # With several models, each can run in its own thread: torch releases the GIL
        # inside its kernels, so NER and POS LSTMs use two cores at once. Worth it in a
        # server, whose one inference thread would otherwise use one core; not in
        # ``tagger tag``, whose worker processes already fill the cores.
        self._pool = ThreadPoolExecutor(len(models), "model") if parallel_models and len(models) > 1 else None

    @classmethod
    def load(
        cls,
        paths: str | Path | Sequence[str | Path],
        device: str | None = None,
        threads: int | None = None,
        batch_tokens: int = 4096,
        parallel_models: bool = False,
        char_cache: int = CHAR_CACHE_WORDS,
    ) -> Predictor:
        if isinstance(paths, (str, Path)):
            paths = [paths]
        if not threads and parallel_models and len(paths) > 1:
            # The models' threads share the cores; intra-op threads on top only contend.
            threads = max(1, usable_cores() // len(paths))
        if threads:
            torch.set_num_threads(threads)
        chosen = pick_device(device)
        models = [checkpoint.load(p, chosen) for p in paths]
        return cls(models, chosen, batch_tokens, parallel_models, char_cache)

    def char_cache_stats(self) -> dict[str, tuple[int, int, int]]:
        """Per model with a word cache: (hits, misses, words held) since loading."""
        return {name: (c.hits, c.misses, len(c)) for name, c in self._char_caches.items()}

    def select(self, names: Sequence[str] | None) -> list[LoadedModel]:
        """The named models in load order, duplicates dropped; unknown names are an error."""
        if names is None:
            return list(self.models.values())
        unknown = [n for n in names if n not in self.models]
        if unknown or not names:
            raise TaggerError(f"unknown model(s) {unknown}; loaded: {sorted(self.models)}")
        return [m for name, m in self.models.items() if name in names]

    def predict_tokens(
        self, sentences: Sequence[Sequence[str]], models: Sequence[str] | None = None
    ) -> dict[str, list[list[TokenLabel]]]:
        """Label every token of every sentence with each selected model.

        Empty sentences get empty predictions. Results are in input order.
        """
        selected = self.select(models)
        lengths = [len(s) for s in sentences]
        real = [i for i, n in enumerate(lengths) if n > 0]
        batches = [
            [real[g] for g in group] for group in token_budget_batches([lengths[i] for i in real], self.batch_tokens)
        ]
        if self._pool is not None and len(selected) > 1:
            futures = [self._pool.submit(self._predict_one, m, sentences, batches) for m in selected]
            return {m.name: f.result() for m, f in zip(selected, futures, strict=True)}
        return {m.name: self._predict_one(m, sentences, batches) for m in selected}

    def _predict_one(
        self, loaded: LoadedModel, sentences: Sequence[Sequence[str]], batches: list[list[int]]
    ) -> list[list[TokenLabel]]:
        table = _token_wise_labels(loaded)
        out: list[list[TokenLabel]] = [[] for _ in sentences]
        with torch.inference_mode():  # per thread: models may run in the pool's threads
            for idx in batches:
                batch = encode([sentences[i] for i in idx], loaded.vocab, loaded.config.model.max_word_chars)
                batch = batch.to(self.device)
                cache = self._char_caches.get(loaded.name)
                chars = None
                if cache is not None:
                    chars = cache.features(batch.distinct, partial(loaded.model.char_features, batch))
                paths, confidence = loaded.model.decode(batch, chars)
                paths_l, conf_l = paths.cpu().tolist(), confidence.float().cpu().tolist()
                for row, i in enumerate(idx):
                    n = len(sentences[i])
                    if table is not None:
                        labels = [table[j] for j in paths_l[row][:n]]
                    else:
                        labels = [loaded.vocab.labels[j] for j in paths_l[row][:n]]
                        labels = convert(labels, loaded.label_scheme, OUTPUT_SCHEME)
                    out[i] = [TokenLabel(lab, s) for lab, s in zip(labels, conf_l[row][:n], strict=True)]
        return out

    @staticmethod
    def prepare(document: str | Sequence[str]) -> PreparedDocument:
        """Tokenize one document: a raw string is tokenized and sentence-split; a list of
        strings is one pre-tokenized sentence whose offsets refer to the tokens joined by
        single spaces.
        """
        if isinstance(document, str):
            text, sentences = document, tokenize(document)
        else:
            text, sentences = " ".join(document), ([_offsets(document)] if document else [])
        # Cap sentence length: a run-on "sentence" of thousands of tokens (a table, a log
        # file) would otherwise hold the inference thread for a very long CRF time loop.
        step = MAX_SENTENCE_TOKENS
        return PreparedDocument(text, [s[i : i + step] for s in sentences for i in range(0, len(s), step)])

    def tag(
        self, documents: Sequence[str | Sequence[str]], models: Sequence[str] | None = None
    ) -> list[TaggedDocument]:
        """Tag documents (see ``prepare``) with each selected model."""
        if isinstance(documents, str):
            raise TypeError("tag() takes a list of documents; call the tagger itself for one string")
        return self.tag_prepared([self.prepare(d) for d in documents], models)

    def tag_prepared(
        self, documents: Sequence[PreparedDocument], models: Sequence[str] | None = None
    ) -> list[TaggedDocument]:
        """All sentences of all documents go through each model in shared batches."""
        flat = [[t.text for t in sent] for doc in documents for sent in doc.sentences]
        predictions = self.predict_tokens(flat, models)
        result = []
        position = 0
        for doc in documents:
            sentences: list[list[TaggedToken]] = []
            entities: list[Entity] = []
            for s_index, sent in enumerate(doc.sentences):
                tagged = [TaggedToken(t.text, t.start, t.end) for t in sent]
                for name, per_sentence in predictions.items():
                    labels = per_sentence[position]
                    for token, label in zip(tagged, labels, strict=True):
                        token.labels[name] = label
                    if self.models[name].label_scheme != TagScheme.NONE:
                        entities.extend(_entities(doc.text, sent, labels, name, s_index))
                sentences.append(tagged)
                position += 1
            entities.sort(key=lambda e: (e.start, e.model))
            result.append(TaggedDocument(doc.text, sentences, entities))
        return result

    def __call__(self, text: str, models: Sequence[str] | None = None) -> TaggedDocument:
        """``Tagger.load(path)("Angela Merkel visited Paris.")``."""
        return self.tag([text], models)[0]


def _token_wise_labels(loaded: LoadedModel) -> list[str] | None:
    """The output label of each label id, where output labels follow token by token.

    True for untagged and IOB2 labels, and for BIOES decoded by a CRF: its constraints
    make every path well formed, so S-X is B-X and E-X is I-X. Otherwise (IOB1, or
    BIOES from a softmax head, which may be ill formed) ``None``: whole sentences are
    converted through spans.
    """
    labels = loaded.vocab.labels
    if loaded.label_scheme in (TagScheme.NONE, OUTPUT_SCHEME):
        return list(labels)
    if loaded.label_scheme == TagScheme.BIOES and loaded.model.crf is not None:
        token_wise = {"S": "B", "E": "I"}
        return [token_wise.get(t[:1], t[:1]) + t[1:] if t[1:2] == "-" else t for t in labels]
    return None


def _offsets(tokens: Sequence[str]) -> list[Token]:
    out, position = [], 0
    for token in tokens:
        out.append(Token(token, position, position + len(token)))
        position += len(token) + 1
    return out


def _entities(text: str, sent: list[Token], labels: list[TokenLabel], model: str, s_index: int) -> list[Entity]:
    spans = spans_from_tags([lab.label for lab in labels], OUTPUT_SCHEME)
    result = []
    for span in spans:
        start, end = sent[span.start].start, sent[span.end - 1].end
        score = sum(lab.score for lab in labels[span.start : span.end]) / (span.end - span.start)
        result.append(Entity(text[start:end], span.label, start, end, score, model, s_index, span.start, span.end))
    return result
