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


def _saved_epoch(staging: Path) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    runstate.save_epoch(staging, model, optimizer, random.Random(0), {"epoch": 2, "history": []})
    return model, optimizer


def test_a_missing_epoch_directory_is_a_one_line_error(tmp_path: Path) -> None:
    import shutil

    from tagger.errors import TaggerError

    model, optimizer = _saved_epoch(tmp_path)
    shutil.rmtree(tmp_path / "epoch-2")
    with pytest.raises(TaggerError) as info:
        runstate.load_epoch(tmp_path, model, optimizer, random.Random(0))
    assert str(info.value) == (
        f"{tmp_path / 'state.json'}: damaged resume state: names epoch-2, which is missing; "
        "start the run afresh with --output"
    )


@pytest.mark.parametrize("damage", ["empty state", "no weights", "damaged weights", "foreign weights"])
def test_a_damaged_epoch_state_is_a_one_line_error(tmp_path: Path, damage: str) -> None:
    import json

    from tagger.errors import TaggerError

    model, optimizer = _saved_epoch(tmp_path)
    if damage == "empty state":
        (tmp_path / "state.json").write_text("{}")
    elif damage == "no weights":
        (tmp_path / "epoch-2" / "last.safetensors").unlink()
    elif damage == "damaged weights":
        (tmp_path / "epoch-2" / "last.safetensors").write_bytes(b"\x00" * 5)
    else:
        model = torch.nn.Linear(4, 2)  # the run's config no longer matches its weights
        optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    with pytest.raises(TaggerError) as info:
        runstate.load_epoch(tmp_path, model, optimizer, random.Random(0))
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'state.json'}: damaged resume state") and "\n" not in message
    assert message.endswith("start the run afresh with --output")
    json.loads((tmp_path / "state.json").read_text())  # nothing was discarded


def test_read_static_without_a_vocabulary_is_a_one_line_error(tmp_path: Path) -> None:
    from tagger.errors import TaggerError

    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(TaggerError, match=r"vocab.json: missing file"):
        runstate.read_static(tmp_path)


def test_discard_turns_os_errors_into_one_line_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from tagger.errors import TaggerError

    (tmp_path / ".m.training").mkdir()

    def refuse(path: object, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(shutil, "rmtree", refuse)
    with pytest.raises(TaggerError) as info:
        runstate.discard(tmp_path / ".m.training")
    assert str(info.value) == f"{tmp_path / '.m.training'}: cannot remove it: Permission denied"
    runstate.discard(tmp_path / "absent")  # nothing to remove is no error
