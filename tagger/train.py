"""Training loop: bucketed batches, Adam or SGD with a decaying learning rate, global
gradient clipping, early stopping on the dev score, best model kept on disk.

A kill (Ctrl-C or SIGTERM) stops after the current batch; the model directory then
holds the best epoch so far, written atomically.
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import torch
from tqdm import tqdm

from tagger import checkpoint
from tagger.batch import bucketed_batches, encode
from tagger.card import write_card, write_curves
from tagger.checkpoint import LoadedModel
from tagger.config import Config
from tagger.corpus import Sentence, check_scheme, read_corpus
from tagger.evaluate import evaluate
from tagger.predict import Predictor
from tagger.tags import TagScheme, convert, detect_scheme
from tagger.vocab import build_vocab, read_vectors


@dataclass
class TrainResult:
    output: Path
    best_epoch: int
    best_score: float
    history: list[dict[str, Any]]
    interrupted: bool


def set_seed(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def load_data(path: str | Path, config: Config) -> list[Sentence]:
    data = config.data
    return read_corpus(path, data.format, data.token_column, data.tag_column, data.tag_field)


def _target_scheme(source: TagScheme, config: Config) -> TagScheme:
    if source == TagScheme.NONE or config.train.tag_scheme == "keep":
        return source
    return TagScheme(config.train.tag_scheme)


class _StopRequested:
    """Turns SIGTERM into a flag checked between batches (Ctrl-C does the same)."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> _StopRequested:
        def handler(signum: int, frame: FrameType | None) -> None:
            self.requested = True

        self._previous = signal.signal(signal.SIGTERM, handler)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGTERM, self._previous)


def train(
    train_path: str | Path,
    dev_path: str | Path,
    output: str | Path,
    config: Config,
    embeddings: str | Path | None = None,
    command: str = "",
    licence: str = "",
    log: Callable[[str], None] = print,
    progress: bool = True,
) -> TrainResult:
    tc = config.train
    if tc.threads:
        torch.set_num_threads(tc.threads)
    set_seed(tc.seed)
    output = Path(output)
    train_set, dev_set = load_data(train_path, config), load_data(dev_path, config)
    source = detect_scheme([s.tags for s in train_set])
    task = "pos" if source == TagScheme.NONE else "ner"
    for name, sents in (("train", train_set), ("dev", dev_set)):
        problems = check_scheme(sents, source)
        for message in problems[:5]:
            log(f"warning: {message} (repaired by reading it as the start of an entity)")
        if len(problems) > 5:
            log(f"warning: {len(problems) - 5} more ill-formed tags in {name}")
    scheme = _target_scheme(source, config)
    train_tags = [convert(s.tags, source, scheme) for s in train_set]

    pretrained_words: list[str] = []
    vectors = None
    if embeddings is not None:
        log(f"reading vectors from {embeddings}")
        pretrained_words, vectors = read_vectors(embeddings)
        config.model.word_dim = vectors.size(1)
    vocab = build_vocab(
        (t for s in train_set for t in s.tokens),
        (t for tags in train_tags for t in tags),
        pretrained_words,
        max_pretrained=tc.max_pretrained,
        min_count=tc.min_count,
        lowercase=config.model.lowercase,
    )
    model = checkpoint.build_model(config, vocab, scheme)
    if vectors is not None:
        rows = [(i, vocab.word_index[w]) for i, w in enumerate(pretrained_words) if w in vocab.word_index]
        src = torch.tensor([r[0] for r in rows])
        dst = torch.tensor([r[1] for r in rows])
        model.load_pretrained(vectors[src], dst)
        log(f"vocabulary: {len(vocab.words)} words ({len(rows)} with pretrained vectors), {len(vocab.labels)} labels")
    checkpoint.save_static(output, config, vocab, task, scheme)

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer: torch.optim.Optimizer
    if tc.optimizer == "adam":
        optimizer = torch.optim.Adam(params, lr=tc.lr, weight_decay=tc.weight_decay)
    else:
        optimizer = torch.optim.SGD(params, lr=tc.lr, momentum=tc.momentum, weight_decay=tc.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0 / (1.0 + tc.lr_decay * epoch))

    loaded = LoadedModel(output, config, vocab, model, task, scheme)
    predictor = Predictor([loaded], torch.device("cpu"))
    rng = random.Random(tc.seed)
    lengths = [len(s) for s in train_set]
    history: list[dict[str, Any]] = []
    best_score, best_epoch, stale = -1.0, 0, 0
    last_dev = float("nan")
    interrupted = False
    card_info = {
        "train": str(train_path),
        "dev": str(dev_path),
        "embeddings": str(embeddings or ""),
        "command": command,
        "licence": licence,
    }

    with _StopRequested() as stop:
        try:
            for epoch in range(1, tc.epochs + 1):
                model.train()
                started = time.perf_counter()
                batches = bucketed_batches(lengths, tc.batch_size, rng)
                total_loss = 0.0
                bar = tqdm(batches, desc=f"epoch {epoch}", disable=not progress, leave=False, unit="batch")
                for step, idx in enumerate(bar, start=1):
                    batch = encode(
                        [train_set[i].tokens for i in idx],
                        vocab,
                        config.model.max_word_chars,
                        [train_tags[i] for i in idx],
                    )
                    if tc.word_dropout > 0:
                        drop = (torch.rand(batch.words.shape) < tc.word_dropout) & batch.mask
                        batch.words = batch.words.masked_fill(drop, 1)
                    loss = model.loss(batch)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(params, tc.clip_norm)
                    optimizer.step()
                    total_loss += loss.item()
                    if step % 20 == 0:
                        bar.set_postfix(loss=f"{total_loss / step:.3f}", dev=f"{last_dev:.4f}")
                    if stop.requested:
                        raise KeyboardInterrupt
                schedule.step()
                train_seconds = time.perf_counter() - started
                model.eval()
                dev = evaluate(predictor, loaded.name, dev_set)
                last_dev = dev["main"]
                record = {
                    "epoch": epoch,
                    "loss": total_loss / len(batches),
                    "dev_score": dev["main"],
                    "train_seconds": round(train_seconds, 2),
                    "dev_seconds": round(time.perf_counter() - started - train_seconds, 2),
                    "lr": optimizer.param_groups[0]["lr"],
                }
                history.append(record)
                improved = dev["main"] > best_score
                if improved:
                    best_score, best_epoch, stale = dev["main"], epoch, 0
                    checkpoint.save_weights(model, output)
                else:
                    stale += 1
                log(
                    f"epoch {epoch}: loss {record['loss']:.4f} dev {dev['main']:.4f} "
                    f"({train_seconds:.1f}s train){' *' if improved else ''}"
                )
                checkpoint.write_json(output / "metrics.json", {"history": history, "best_epoch": best_epoch})
                if stale >= tc.patience:
                    log(f"no dev improvement for {tc.patience} epochs; stopping")
                    break
        except KeyboardInterrupt:
            interrupted = True
            log("interrupted: keeping the best model so far")

    if best_epoch == 0:
        return TrainResult(output, 0, best_score, history, interrupted)
    # Score what was saved (float16 embeddings included), so the card matches `tagger evaluate`.
    saved = checkpoint.load(output)
    final = evaluate(Predictor([saved], torch.device("cpu")), saved.name, dev_set)
    metrics = {
        "task": task,
        "dev": final,
        "best_epoch": best_epoch,
        "epochs_run": len(history),
        "seconds_per_epoch": round(sum(h["train_seconds"] for h in history) / max(len(history), 1), 2),
        "torch_threads": torch.get_num_threads(),
        "history": history,
        "data": card_info,
        "seed": tc.seed,
        "interrupted": interrupted,
    }
    checkpoint.write_json(output / "metrics.json", metrics)
    write_curves(history, output / "training_curves.png")
    write_card(output)
    return TrainResult(output, best_epoch, best_score, history, interrupted)
