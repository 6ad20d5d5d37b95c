"""Data-parallel training: batches shared out evenly, weights identical on every rank
after every step, and a torchrun launch that writes a model like any other."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from tagger.distributed import World, rank_batches
from tests.conftest import NER_TRAIN, ROOT

WORLD = 2


def test_every_rank_gets_the_same_number_of_batches_and_none_twice() -> None:
    batches = list(range(11))
    shares = [rank_batches(batches, World(r, 3)) for r in range(3)]
    assert [len(s) for s in shares] == [3, 3, 3]
    assert sorted(b for s in shares for b in s) == list(range(9))  # the last 2 wait for the next epoch
    assert rank_batches([7], World(1, 2)) == [7]  # a corpus of one batch: both ranks step
    assert rank_batches(batches, World()) == batches


def _steps_on_one_rank(rank: int, port: int, data: str, failures: mp.Queue) -> None:
    """Runs in a spawned process: a few DDP steps, checking after each that both
    ranks hold identical weights."""
    try:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        from tagger import checkpoint, distributed
        from tagger.batch import encode
        from tagger.tags import TagScheme, convert
        from tagger.train import epoch_batches, load_data
        from tagger.vocab import build_vocab
        from tests.test_train import tiny_config

        torch.set_num_threads(1)
        world = World(rank, WORLD)
        device = torch.device("cpu")
        distributed.init(world, device)
        config = tiny_config()
        torch.manual_seed(rank)  # different on purpose: DDP must start both from rank 0's weights
        sentences = load_data(data, config)
        tags = [convert(s.tags, TagScheme.IOB2, TagScheme.BIOES) for s in sentences]
        vocab = build_vocab((t for s in sentences for t in s.tokens), (t for ts in tags for t in ts), [], min_count=1)
        model = checkpoint.build_model(config, vocab, TagScheme.BIOES)
        net = distributed.wrap(model, world, device)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        rng = random.Random(0)
        for _ in range(2):  # epochs
            examples, example_tags, batches = epoch_batches(sentences, tags, 0, 2, rng)
            for idx in rank_batches(batches, world):
                batch = encode([examples[i] for i in idx], vocab, 8, [example_tags[i] for i in idx])
                optimizer.zero_grad()
                net(batch).backward()
                optimizer.step()
                flat = torch.cat([p.detach().flatten() for p in model.parameters()])
                gathered = [torch.empty_like(flat) for _ in range(WORLD)]
                torch.distributed.all_gather(gathered, flat)
                if not torch.equal(gathered[0], gathered[1]):
                    raise AssertionError(f"rank weights differ by {(gathered[0] - gathered[1]).abs().max()}")
        torch.distributed.barrier()  # neither rank tears gloo down while the other still uses it
        distributed.close(world)
    except BaseException as exc:  # reported to the test in the parent
        failures.put(f"rank {rank}: {exc!r}")


def test_ddp_keeps_the_ranks_weights_identical_after_every_step(tmp_path: Path) -> None:
    from benchmarks.processes import free_port

    data = tmp_path / "train.txt"
    data.write_text((NER_TRAIN + "\n") * 4, encoding="utf-8")
    failures: mp.Queue = mp.get_context("spawn").Queue()
    mp.spawn(_steps_on_one_rank, args=(free_port(), str(data), failures), nprocs=WORLD, join=True)
    assert failures.empty(), failures.get()


def test_torchrun_trains_a_model_that_loads_and_tags(tmp_path: Path) -> None:
    data = tmp_path / "train.txt"
    data.write_text((NER_TRAIN + "\n") * 6, encoding="utf-8")
    out = tmp_path / "m"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    command += ["-m", "tagger", "train", "--train", str(data), "--dev", str(data), "--output", str(out)]
    command += ["--epochs", "2", "--hidden-size", "8", "--word-dim", "8", "--char-encoder", "none", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("best dev score") == 1  # rank 0 alone reports
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_run"] == 2
    from tagger.pipeline import Tagger

    doc = Tagger.load(out, device="cpu")("Peter Blackburn lives in Berlin.")
    assert len(doc.sentences[0]) == 6


@pytest.fixture(autouse=True)
def _no_leftover_group() -> None:
    assert not torch.distributed.is_initialized()
