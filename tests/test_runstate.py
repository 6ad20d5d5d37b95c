"""Publishing model directories whole, and the state a run keeps for --resume."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from tagger import runstate


def test_publishing_replaces_a_model_directory_whole(tmp_path: Path) -> None:
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "a").write_text("new")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "a").write_text("old")
    (tmp_path / "m" / "stale").write_text("old")
    runstate.publish(tmp_path / "new", tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["a"] and (tmp_path / "m" / "a").read_text() == "new"
    assert not (tmp_path / "new").exists()
    # A kill between the two renames of the fallback leaves the old model aside: recovered.
    (tmp_path / ".m.old").mkdir()
    (tmp_path / "m").rename(tmp_path / "elsewhere")
    runstate.recover(tmp_path / "m")
    assert (tmp_path / "m").is_dir() and not (tmp_path / ".m.old").exists()


def test_publishing_syncs_the_new_files_before_they_replace_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Data first, rename after: else a power cut can leave the new names on empty files."""
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "model.safetensors").write_text("new")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.safetensors").write_text("old")
    synced: list[tuple[str, str]] = []  # (path synced, what the model directory held then)
    real_fsync = runstate._fsync

    def record(path: Path) -> None:
        synced.append((str(path.relative_to(tmp_path)), (tmp_path / "m" / "model.safetensors").read_text()))
        real_fsync(path)

    monkeypatch.setattr(runstate, "_fsync", record)
    runstate.publish(tmp_path / "new", tmp_path / "m")
    assert synced[:2] == [("new/model.safetensors", "old"), ("new", "old")]
    assert synced[-1] == (".", "new")  # then the directory holding the rename


def test_epoch_state_round_trips_model_optimizer_and_random_generators(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.ones(4, 3)).sum().backward()
    optimizer.step()
    rng = random.Random(5)
    rng.random()
    runstate.save_epoch(tmp_path, model, optimizer, rng, {"epoch": 2, "history": [1, 2]})
    want_next = (rng.random(), torch.rand(1).item())

    fresh = torch.nn.Linear(3, 2)
    fresh_optimizer = torch.optim.Adam(fresh.parameters(), lr=0.1)
    fresh_rng = random.Random(99)
    progress = runstate.load_epoch(tmp_path, fresh, fresh_optimizer, fresh_rng)
    assert progress["epoch"] == 2 and progress["history"] == [1, 2]
    assert torch.equal(fresh.weight, model.weight)
    assert fresh_optimizer.state_dict()["state"][0]["exp_avg"].equal(optimizer.state_dict()["state"][0]["exp_avg"])
    assert (fresh_rng.random(), torch.rand(1).item()) == want_next
