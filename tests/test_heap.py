"""The collector settings of tagging processes: what was loaded is never walked again,
and cyclic garbage made while tagging is still collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from tagger import heap
from tagger.cli import main


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


@pytest.fixture
def restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_settle_frees_garbage_then_freezes_the_rest(restore_gc: None) -> None:
    garbage = Node()
    gone = weakref.ref(garbage)
    del garbage
    kept = [Node()]  # alive, like a model's vocabulary
    gc.unfreeze()
    heap.settle_after_loading()
    assert gone() is None, "garbage alive before settling is collected, not frozen"
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == heap.THRESHOLDS
    assert kept[0].me is kept[0]


def test_cycles_made_after_settling_are_still_collected(restore_gc: None) -> None:
    heap.settle_after_loading()
    made = Node()
    gone = weakref.ref(made)
    del made
    # Containers that stay alive, as a tagged batch's tokens and labels do (CPython
    # counts allocations net of frees).
    alive = [[None] for _ in range(3 * heap.THRESHOLDS[0])]
    assert gone() is None
    assert len(alive) == 3 * heap.THRESHOLDS[0]


def test_tag_settles_before_tagging(model_dir: Path, tmp_path: Path, restore_gc: None) -> None:
    source = tmp_path / "in.txt"
    source.write_text("Angela Merkel visited Paris .\n", encoding="utf-8")
    gc.set_threshold(700, 10, 10)
    code = main(["tag", str(source), "--model", str(model_dir), "--workers", "1", "-o", str(tmp_path / "out.jsonl")])
    assert code == 0
    assert gc.get_threshold() == heap.THRESHOLDS
    assert (tmp_path / "out.jsonl").read_text(encoding="utf-8").count("\n") == 1
