"""Training loop: bucketed batches, Adam or SGD with a decaying learning rate, global
gradient clipping, early stopping on the dev score, best model kept on disk.

A model directory is only ever replaced whole (``tagger.runstate``): a killed
retraining leaves the previous model or the new one, and ``resume=True`` continues an
interrupted run from its last completed epoch.

The loop runs on any device (``train.device``; CUDA with float16 autocast and a
gradient scaler when ``mixed_precision``, the CRF always in float32). It installs no
signal handler: the caller passes ``should_stop`` (the CLI turns SIGTERM into it), and
Ctrl-C stops after the current batch. Either way the model directory then holds the
best epoch so far, written atomically.

A run whose loss or weights stop being finite numbers (a learning rate far too high)
stops with a ``TaggerError`` naming the epoch; only finite weights are ever published,
so a run that never had a finite epoch leaves the model directory as it was.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import random
import shutil
import time
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from tagger import checkpoint, distil, distributed, runstate
from tagger.batch import encode
from tagger.batching import bucketed_batches, context_chunks
from tagger.card import write_card, write_curves
from tagger.checkpoint import LoadedModel
from tagger.config import Config, TrainConfig, set_field
from tagger.corpus import Sentence, check_bio_tags, check_scheme, read_corpus
from tagger.device import pick_device
from tagger.errors import TaggerError
from tagger.evaluate import evaluate

# Re-exported: the CLI and the tests start runs from here.
from tagger.finalfit import FinalFit, check_final_fit_output
from tagger.labeler import Labeler
from tagger.resume import damaged, resume_vocab
from tagger.tags import TagScheme, convert, detect_scheme
from tagger.vocab import Vocab, build_vocab, read_vectors


@dataclass
class TrainResult:
    output: Path
    best_epoch: int
    best_score: float
    history: list[dict[str, Any]]
    interrupted: bool
    main: bool = True  # False on the ranks of a distributed run that do not write


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


def split_holdout(sentences: list[Sentence], share: float) -> tuple[list[Sentence], list[Sentence]]:
    """(training part, held-out part): the held-out part is the last ``share`` of the
    documents (whole documents, so no document is on both sides)."""
    if share <= 0:
        return sentences, []
    documents = sorted({s.document for s in sentences})
    keep = documents[: len(documents) - max(1, round(share * len(documents)))]
    if not keep:
        raise TaggerError(f"holdout_share={share} leaves no training document ({len(documents)} in all)")
    kept = set(keep)
    return [s for s in sentences if s.document in kept], [s for s in sentences if s.document not in kept]


def recase(tokens: list[str], rng: random.Random, share: float) -> list[str]:
    """The sentence all lower-case with probability ``share / 2``, all upper-case with
    probability ``share / 2``, else as it is."""
    draw = rng.random()
    if draw < share / 2:
        return [t.lower() for t in tokens]
    if draw < share:
        return [t.upper() for t in tokens]
    return tokens


def training_examples(
    sentences: Sequence[Sentence], tags: Sequence[list[str]], context: int, rng: random.Random
) -> tuple[list[list[str]], list[list[str]]]:
    """Token and tag sequences of one epoch: each sentence, or, with document context,
    chunks of consecutive sentences of a document (``batch.context_chunks``), labelled
    throughout, so the recurrent layers learn to read across sentence boundaries."""
    if context == 0:
        return [s.tokens for s in sentences], list(tags)
    chunks = context_chunks([len(s) for s in sentences], [s.document for s in sentences], context, rng)
    tokens = [[t for j in chunk for t in sentences[j].tokens] for chunk in chunks]
    chunk_tags = [[t for j in chunk for t in tags[j]] for chunk in chunks]
    return tokens, chunk_tags


def epoch_batches(
    sentences: Sequence[Sentence], tags: Sequence[list[str]], context: int, batch_size: int, rng: random.Random
) -> tuple[list[list[str]], list[list[str]], list[list[int]]]:
    """One epoch's examples, their tags and batches of example indices. Chunks of
    several sentences go fewer to a batch: as many updates per epoch as without
    context, each over about ``batch_size`` sentences."""
    examples, example_tags = training_examples(sentences, tags, context, rng)
    per_batch = max(1, round(batch_size * len(examples) / max(len(sentences), 1)))
    return examples, example_tags, bucketed_batches([len(e) for e in examples], per_batch, rng)


def check_output(output: Path) -> None:
    """Refuse to train into a directory that holds something other than a model (a
    better epoch replaces the model directory whole), or where nothing can be written:
    the staging directory and each new model are made beside it."""
    if output.exists() and (not output.is_dir() or any(output.iterdir())) and not (output / "config.json").is_file():
        raise TaggerError(f"{output}: exists and is not a model directory; give a new or a model directory")
    above = next((p for p in output.absolute().parents if os.path.lexists(p)), None)
    if above is None:
        return
    shown = next((p for p in output.parents if p.absolute() == above), above)
    if not above.is_dir():
        raise TaggerError(f"{output}: cannot train into it: {shown} is not a directory")
    if not os.access(above, os.W_OK | os.X_OK):
        raise TaggerError(f"{output}: cannot train into it: {shown} is not writable")


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
    should_stop: Callable[[], bool] = lambda: False,
    resume: bool = False,
    final_fit: FinalFit | None = None,
) -> TrainResult:
    """Train a model directory; ``config`` is not modified (the saved copy records the
    width of ``embeddings``). With ``resume``, continue the interrupted run into
    ``output`` from its last completed epoch (see ``resume_arguments``). With
    ``final_fit``, train on train + dev for the epochs a selection run chose, without
    early stopping (see ``final_fit_from``)."""
    config = config.copy()
    if config.model.sentence_casing and config.model.context_sentences > 0:
        # Training rows are random chunks of sentences, inference rows centred windows:
        # a row-wise casing decision would differ between the two.
        raise TaggerError(
            "sentence_casing works on models that read sentences alone; "
            f"it cannot be combined with context_sentences={config.model.context_sentences}"
        )
    if config.model.document_consistency > 0 and config.model.head != "crf":
        # It moves emission scores before a second CRF decoding; a softmax head has none.
        raise TaggerError(
            f"document_consistency={config.model.document_consistency} needs head crf, not {config.model.head}"
        )
    if config.train.teachers and config.train.distil_weight == 0:
        raise TaggerError("teachers given with distil_weight 0: they would be run for nothing; drop one")
    if config.train.teachers and config.model.context_sentences > 0:
        # Teachers' probabilities belong to sentences; training rows would be chunks of them.
        raise TaggerError(
            f"teachers work on models that read sentences alone; not with context_sentences="
            f"{config.model.context_sentences}"
        )
    for teacher in config.train.teachers:  # here, not after minutes of reading the data
        if not (Path(teacher) / "config.json").is_file():
            raise TaggerError(f"teacher {teacher} (--teachers): not a model directory (no config.json there)")
    # Saved in config.json as absolute paths: a resume or a final fit started from
    # another directory finds the same teachers.
    config.train.teachers = [os.path.abspath(t) for t in config.train.teachers]
    if final_fit is not None:
        check_final_fit_output(final_fit, Path(output))
    tc = config.train
    world = distributed.world_from_env()  # one rank of a torchrun launch, or alone
    device = pick_device(tc.device)
    if device.type == "cuda" and world.distributed:
        device = torch.device("cuda", world.local_rank)
    distributed.init(world, device)
    try:
        return _train(
            train_path,
            dev_path,
            Path(output),
            config,
            embeddings,
            command,
            licence,
            log if world.main else _quiet,
            progress and world.main,
            should_stop,
            resume,
            final_fit,
            world,
            device,
        )
    finally:
        distributed.close(world)


def _compare_labels(
    train_set: Sequence[Sentence],
    dev_set: Sequence[Sentence],
    source: TagScheme,
    paths: tuple[str, str],
    log: Callable[[str], None],
) -> None:
    """Dev must be scored in the labels train teaches: entity tags in dev but not in
    train are an error (a train file of O alone, or the wrong column, would train a POS
    model that scores dev as token accuracy); dev labels train never has are warned of,
    since dev counts each of them as a miss."""
    dev_source = detect_scheme([s.tags for s in dev_set])
    if source == TagScheme.NONE and dev_source != TagScheme.NONE:
        raise TaggerError(
            f"{paths[0]}: its tags are not entity tags (or all O), but {paths[1]} has entity tags "
            "(B-, I-, E-, S- and a type): give a train file with entities, or check --tag-column"
        )
    if source == TagScheme.NONE:
        unseen = sorted({t for s in dev_set for t in s.tags} - {t for s in train_set for t in s.tags})
    else:
        types = {tag[2:] for s in train_set for tag in s.tags if tag != "O"}
        unseen = sorted({tag[2:] for s in dev_set for tag in s.tags if tag != "O"} - types)
    if unseen:
        kind = "labels" if source == TagScheme.NONE else "entity types"
        shown = ", ".join(unseen[:8]) + (", ..." if len(unseen) > 8 else "")
        log(f"warning: {paths[1]} has {kind} {paths[0]} never has ({shown}): dev scores each of them as a miss")


def _quiet(_: str) -> None:
    pass


class _Diverged(Exception):
    """The loss or the weights of an epoch are no longer finite numbers."""

    def __init__(self, epoch: int, problem: str, lr: float) -> None:
        if math.isfinite(lr):
            advice = "the learning rate is likely too high: give a lower --lr, or a lower --clip-norm"
        else:
            advice = "the learning rate is not a number: check --lr and --lr-decay"
        self.epoch = epoch
        super().__init__(f"epoch {epoch}: training diverged: {problem} (learning rate {lr:.3g}); {advice}")


def _finite(params: Sequence[torch.Tensor]) -> bool:
    return bool(torch.stack([torch.isfinite(p).all() for p in params]).all()) if params else True


def _any_rank(flag: bool, world: distributed.World, device: torch.device) -> bool:
    """True on every rank when ``flag`` is true on any."""
    if not world.distributed:
        return flag
    value = torch.tensor([int(flag)], device=device)
    torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
    return bool(value.item())


def _train(
    train_path: str | Path,
    dev_path: str | Path,
    output: Path,
    config: Config,
    embeddings: str | Path | None,
    command: str,
    licence: str,
    log: Callable[[str], None],
    progress: bool,
    should_stop: Callable[[], bool],
    resume: bool,
    final_fit: FinalFit | None,
    world: distributed.World,
    device: torch.device,
) -> TrainResult:
    tc = config.train
    set_seed(tc.seed)
    staging = runstate.staging_dir(output)
    if world.main:
        runstate.recover(output)
        check_output(output)
    # Every input is read and checked before anything on disk changes: a mistyped path
    # must not cost an interrupted run into the same output its resume state.
    train_set, dev_set = load_data(train_path, config), load_data(dev_path, config)
    check_bio_tags(train_set)
    check_bio_tags(dev_set)
    train_set, holdout_set = split_holdout(train_set, tc.holdout_share)
    if final_fit is not None:
        set_field(config, "train.epochs", final_fit.epochs, f"final fit of {final_fit.selection}")
        first = max((s.document for s in train_set), default=0) + 1  # dev documents stay apart
        train_set = train_set + [dataclasses.replace(s, document=s.document + first) for s in dev_set]
    source = detect_scheme([s.tags for s in train_set])
    task = "pos" if source == TagScheme.NONE else "ner"
    for name, sents in (("train", train_set), ("dev", dev_set)):
        problems = check_scheme(sents, source)
        for message in problems[:5]:
            log(f"warning: {message} (repaired by reading it as the start of an entity)")
        if len(problems) > 5:
            log(f"warning: {len(problems) - 5} more ill-formed tags in {name}")
    _compare_labels(train_set, dev_set, source, (str(train_path), str(dev_path)), log)
    scheme = _target_scheme(source, config)
    train_tags = [convert(s.tags, source, scheme) for s in train_set]

    pretrained_words: list[str] = []
    vectors = None
    if resume:  # the run's own vocabulary; its vectors are in the saved weights
        vocab = resume_vocab(staging)
        unknown = sorted({t for tags in train_tags for t in tags} - set(vocab.labels))
        if unknown:
            corpus = f"{train_path}" if final_fit is None else f"{train_path} (with {dev_path})"
            raise TaggerError(
                f"{corpus}: has labels the interrupted run's vocabulary lacks ({', '.join(unknown[:8])}"
                f"{', ...' if len(unknown) > 8 else ''}); the corpus changed since the run started: "
                "restore it, or start afresh with --output"
            )
    else:
        if embeddings is not None:
            log(f"reading vectors from {embeddings}")
            pretrained_words, vectors = read_vectors(embeddings)
            set_field(config, "model.word_dim", vectors.size(1), str(embeddings))
        vocab = build_vocab(
            (t for s in train_set for t in s.tokens),
            (t for tags in train_tags for t in tags),
            pretrained_words,
            max_pretrained=tc.max_pretrained,
            min_count=tc.min_count,
            lowercase=config.model.lowercase,
        )
    if resume and tc.vector_dropout > 0 and embeddings is not None:
        pretrained_words, vectors = read_vectors(embeddings)  # the unchanged vectors it swaps in
    targets = None
    if tc.teachers:
        teachers = distil.load_teachers(tc.teachers, vocab.labels, scheme)
        log(f"teachers: {', '.join(tc.teachers)}: label probabilities of {len(train_set)} sentences")
        targets = distil.teacher_probabilities(teachers, [s.tokens for s in train_set], vocab.labels)
        del teachers
    model = checkpoint.build_model(config, vocab, scheme)
    if vectors is not None:
        rows = [(i, vocab.word_index[w]) for i, w in enumerate(pretrained_words) if w in vocab.word_index]
        src = torch.tensor([r[0] for r in rows])
        dst = torch.tensor([r[1] for r in rows])
        model.load_pretrained(vectors[src], dst, keep_original=tc.vector_dropout > 0)
        log(f"vocabulary: {len(vocab.words)} words ({len(rows)} with pretrained vectors), {len(vocab.labels)} labels")
    model.to(device)
    started_fresh = not resume and world.main
    if started_fresh:  # this run starts now: an earlier one's state into the same output goes
        runstate.discard(staging)
        runstate.prepare_staging(output)
    try:
        if started_fresh:
            checkpoint.save_static(staging, config, vocab, task, scheme)
        return _run(
            train_set,
            train_tags,
            targets,
            dev_set,
            holdout_set,
            output,
            staging,
            config,
            vocab,
            task,
            scheme,
            model,
            embeddings,
            card_info={
                "train": str(train_path),
                "dev": str(dev_path),
                "embeddings": str(embeddings or ""),
                "command": command,
                "licence": licence,
            },
            log=log,
            progress=progress,
            should_stop=should_stop,
            resume=resume,
            final_fit=final_fit,
            world=world,
            device=device,
        )
    finally:
        if started_fresh and not (staging / runstate.STATE_FILE).is_file():
            runstate.discard(staging)  # no epoch completed: nothing to resume, nothing to keep


PROGRESS_FIELDS: dict[str, tuple[type, ...]] = {
    "epoch": (int,),
    "history": (list,),
    "best_score": (int, float),
    "best_epoch": (int,),
    "stale": (int,),
    "data": (dict,),
}


def _run(
    train_set: list[Sentence],
    train_tags: list[list[str]],
    targets: list[np.ndarray] | None,
    dev_set: list[Sentence],
    holdout_set: list[Sentence],
    output: Path,
    staging: Path,
    config: Config,
    vocab: Vocab,
    task: str,
    scheme: TagScheme,
    model: Any,
    embeddings: str | Path | None,
    *,
    card_info: dict[str, Any],
    log: Callable[[str], None],
    progress: bool,
    should_stop: Callable[[], bool],
    resume: bool,
    final_fit: FinalFit | None,
    world: distributed.World,
    device: torch.device,
) -> TrainResult:
    """The epochs of a run whose inputs are all read and checked."""
    tc = config.train
    net = distributed.wrap(model, world, device)  # what the steps call: DDP averages gradients

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(params, tc)
    amp = tc.mixed_precision and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)

    loaded = LoadedModel(output, config, vocab, task, scheme, model=model)
    labeler = Labeler([loaded], device)
    rng = random.Random(tc.seed)  # batch order: the same stream on every rank
    # Casing augmentation draws per batch: each rank its own stream, so the shared one
    # stays in step across ranks (alone, the one stream, as always).
    augment_rng = random.Random(tc.seed * 1009 + world.rank) if world.distributed else rng
    history: list[dict[str, Any]] = []
    best_score, best_epoch, stale, done = -1.0, 0, 0, 0
    last_dev = float("nan")
    interrupted = False
    diverged: _Diverged | None = None
    if resume:
        state = runstate.load_epoch(staging, model, optimizer, rng)
        for key, kind in PROGRESS_FIELDS.items():
            if key not in state:
                raise damaged(staging / runstate.STATE_FILE, f"no {key!r}")
            if not isinstance(state[key], kind) or isinstance(state[key], bool):
                raise damaged(staging / runstate.STATE_FILE, f"{key} is {state[key]!r}")
        history, best_score, best_epoch, stale, done = (
            state["history"],
            state["best_score"],
            state["best_epoch"],
            state["stale"],
            state["epoch"],
        )
        card_info = state["data"]
        log(f"resuming after epoch {done} (best dev {best_score:.4f} at epoch {best_epoch})")
    recent: deque[dict[str, torch.Tensor]] = deque(maxlen=max(tc.average_last, 1))
    if resume and tc.average_last > 1:  # the window as it was at the stop: earlier epochs, then the last
        recent.extend(state["window"])
        recent.append({k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0 / (1.0 + tc.lr_decay * epoch))
    with warnings.catch_warnings():  # stepping a restored schedule before any optimizer step is intended
        warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step\\(\\)` before", UserWarning)
        for _ in range(done):  # the learning rate the next epoch would have had
            schedule.step()

    try:
        for epoch in range(done + 1, tc.epochs + 1):
            model.train()
            started = time.perf_counter()
            examples, example_tags, batches = epoch_batches(
                train_set, train_tags, config.model.context_sentences, tc.batch_size, rng
            )
            batches = distributed.rank_batches(batches, world)
            total_loss = 0.0
            bad_loss = ""  # the first non-finite batch loss of the epoch
            bar = tqdm(batches, desc=f"epoch {epoch}", disable=not progress, leave=False, unit="batch")
            for step, idx in enumerate(bar, start=1):
                tokens = [examples[i] for i in idx]
                if tc.case_augment > 0:
                    tokens = [recase(t, augment_rng, tc.case_augment) for t in tokens]
                batch = encode(
                    tokens,
                    vocab,
                    config.model.max_word_chars,
                    [example_tags[i] for i in idx],
                    config.model.sentence_casing,
                )
                if tc.word_dropout > 0:
                    drop = (torch.rand(batch.words.shape) < tc.word_dropout) & batch.mask
                    batch.words = batch.words.masked_fill(drop, 1)
                if model.original_vectors is not None:  # vector dropout (the model skips words without one)
                    batch.original_words = (torch.rand(batch.words.shape) < tc.vector_dropout) & batch.mask
                if targets is not None:  # examples are the sentences themselves (no context)
                    distil.attach(batch, [targets[i] for i in idx])
                batch = batch.to(device)
                autocast = torch.autocast("cuda", torch.float16) if amp else contextlib.nullcontext()
                with autocast:
                    loss = net(batch, tc.distil_weight)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, tc.clip_norm)
                scaler.step(optimizer)
                scaler.update()
                loss_value = loss.item()
                if not math.isfinite(loss_value) and not bad_loss:
                    bad_loss = f"the loss of batch {step} is {loss_value}"
                    if not world.distributed:  # alone, stop now; ranks decide together below
                        raise _Diverged(epoch, bad_loss, optimizer.param_groups[0]["lr"])
                total_loss += loss_value
                if step % 20 == 0:
                    bar.set_postfix(loss=f"{total_loss / step:.3f}", dev=f"{last_dev:.4f}")
                if distributed.agree(should_stop(), world, device):  # all ranks stop at the same step
                    raise KeyboardInterrupt
            # Weights are identical on every rank; a loss can be nan on one rank only.
            if _any_rank(bool(bad_loss), world, device):
                problem = bad_loss or "the loss of another rank is not finite"
                raise _Diverged(epoch, problem, optimizer.param_groups[0]["lr"])
            if not _finite(params):
                raise _Diverged(epoch, "the weights are no longer finite numbers", optimizer.param_groups[0]["lr"])
            schedule.step()
            train_seconds = time.perf_counter() - started
            if not world.main:  # rank 0 evaluates and decides; the others wait for its word
                if distributed.agree(False, world, device):
                    break
                continue
            model.eval()
            dev = evaluate(labeler, loaded.name, dev_set)
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
            if tc.average_last > 1:
                recent.append({k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
            # A final fit has no held-out data to select on: every epoch is the newest model.
            improved = final_fit is not None or dev["main"] > best_score
            if improved:
                best_score, best_epoch, stale = dev["main"], epoch, 0
                _publish(model, staging, output, {"history": history, "best_epoch": best_epoch})
            else:
                stale += 1
            log(
                f"epoch {epoch}: loss {record['loss']:.4f} dev {dev['main']:.4f} "
                f"({train_seconds:.1f}s train){' *' if improved else ''}"
            )
            if best_epoch and not improved:
                checkpoint.write_json(output / "metrics.json", {"history": history, "best_epoch": best_epoch})
            progress_state = {"epoch": epoch, "history": history, "best_score": best_score}
            progress_state |= {"best_epoch": best_epoch, "stale": stale, "data": card_info}
            progress_state["final_fit"] = None if final_fit is None else dataclasses.asdict(final_fit)
            # the earlier epochs of the averaging window (the last entry is the model itself)
            runstate.save_epoch(staging, model, optimizer, rng, progress_state, list(recent)[:-1])
            finished = stale >= tc.patience
            if finished:
                log(f"no dev improvement for {tc.patience} epochs; stopping")
            if distributed.agree(finished, world, device):
                break
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: keeping the best model so far")
    except _Diverged as exc:
        diverged = exc

    if diverged is not None:
        if not world.main:  # rank 0 says what it kept
            raise TaggerError(str(diverged))
        runstate.discard(staging)  # resuming would take the same steps into the same nan
        if best_epoch == 0:  # never a finite epoch: whatever was in ``output`` stays
            left = f"; {output} is left as it was" if output.exists() else ""
            raise TaggerError(f"{diverged}; nothing saved{left}")
    if not world.main:
        return TrainResult(output, 0, best_score, history, interrupted, main=False)
    if best_epoch == 0:
        return TrainResult(output, 0, best_score, history, interrupted)
    averaged = None
    if len(recent) > 1 and not interrupted and diverged is None:
        _average_into(model, recent)
        averaged_dev = evaluate(labeler, loaded.name, dev_set)["main"]
        averaged = {"epochs": [h["epoch"] for h in history[-len(recent) :]], "dev_score": averaged_dev}
        if final_fit is not None or averaged_dev >= best_score:
            log(f"weights averaged over the last {len(recent)} epochs: dev {averaged_dev:.4f} (kept)")
            _publish(model, staging, output, {"history": history, "best_epoch": best_epoch})
            averaged["kept"] = True
        else:
            log(f"weights averaged over the last {len(recent)} epochs: dev {averaged_dev:.4f} (best epoch kept)")
            averaged["kept"] = False
    # Score what was saved (float16 embeddings included), so the card matches `tagger evaluate`
    # on the float backends (torch, onnx).
    saved = checkpoint.load(output, device)
    final = evaluate(Labeler([saved], device), saved.name, dev_set)
    holdout = evaluate(Labeler([saved], device), saved.name, holdout_set) if holdout_set else None
    metrics = {
        "task": task,
        "dev": final,
        "best_epoch": best_epoch,
        "epochs_run": len(history),
        "seconds_per_epoch": round(sum(h["train_seconds"] for h in history) / max(len(history), 1), 2),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "history": history,
        "data": card_info,
        "seed": tc.seed,
        "interrupted": interrupted,
        "averaged": averaged,
        "holdout": None if holdout is None else {"share": tc.holdout_share, "sentences": len(holdout_set), **holdout},
        "trained_on_dev": final_fit is not None,
        "final_fit": None if final_fit is None else dataclasses.asdict(final_fit),
        "diverged": None if diverged is None else {"epoch": diverged.epoch, "message": str(diverged)},
    }
    checkpoint.write_json(output / "metrics.json", metrics)
    write_curves(history, output / "training_curves.png")
    write_card(output)
    if not interrupted:
        runstate.discard(staging)  # kept after an interruption, for --resume
    if diverged is not None:
        raise TaggerError(f"{diverged}; {output} holds epoch {best_epoch} (dev {best_score:.4f}), the last best one")
    return TrainResult(output, best_epoch, best_score, history, interrupted)


def make_optimizer(params: list[torch.nn.Parameter], tc: TrainConfig) -> torch.optim.Optimizer:
    """The configured optimizer, fused: one pass over each tensor. Every step updates all
    of the word table (a dense gradient: 5-10 million numbers), and on CPU the default
    loop took most of an epoch's time doing so, the fused kernel a tenth of that (the
    same update). A fused step does not count as an in-place write of the weights
    (their ``_version`` stays), which is why the word cache does not rely on it
    (``torch_runner.weights_version``)."""
    if tc.optimizer == "adam":
        return torch.optim.Adam(params, lr=tc.lr, weight_decay=tc.weight_decay, fused=True)
    return torch.optim.SGD(params, lr=tc.lr, momentum=tc.momentum, weight_decay=tc.weight_decay, fused=True)


def _average_into(model: torch.nn.Module, states: Sequence[dict[str, torch.Tensor]]) -> None:
    """Load the mean of ``states`` into ``model`` (integer buffers from the last state)."""
    mean = {}
    for key, last in states[-1].items():
        if last.is_floating_point():
            mean[key] = torch.stack([s[key] for s in states]).mean(0)
        else:
            mean[key] = last
    model.load_state_dict(mean)


def _publish(model: torch.nn.Module, staging: Path, output: Path, metrics: dict[str, Any]) -> None:
    """Replace ``output`` whole by a complete model directory holding ``model``; never by
    weights that are not finite numbers."""
    if not _finite([t for t in model.state_dict().values() if t.is_floating_point()]):
        raise RuntimeError(f"{output}: refusing to publish weights that are not finite")
    fresh = output.parent / f".{output.name}.new"
    runstate.discard(fresh)
    fresh.mkdir()
    for name in ("config.json", "vocab.json"):
        shutil.copy2(staging / name, fresh / name)
    checkpoint.save_weights(model, fresh)  # type: ignore[arg-type]
    checkpoint.write_json(fresh / "metrics.json", metrics)
    runstate.publish(fresh, output)
