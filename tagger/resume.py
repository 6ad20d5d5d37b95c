"""Resuming an interrupted training run: the arguments and vocabulary it was started
with, read back from its staging directory (``tagger.runstate``). A damaged state is a
one-line ``TaggerError`` naming its file, never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tagger import runstate
from tagger.config import Config
from tagger.errors import TaggerError
from tagger.finalfit import FinalFit
from tagger.modelfiles import read_json_object
from tagger.vocab import Vocab


def resume_arguments(output: str | Path) -> tuple[str, str, Config, str | None, FinalFit | None]:
    """(train path, dev path, config, embeddings, final fit) of the interrupted run into
    ``output``. A damaged state is a one-line ``TaggerError`` naming its file."""
    staging = runstate.staging_dir(Path(output))
    state_file = staging / runstate.STATE_FILE
    if not state_file.is_file():
        raise TaggerError(f"{output}: no interrupted training to resume (nothing in {staging.name})")
    saved, _ = runstate.read_static(staging)
    for section in ("model", "train", "data"):
        if not isinstance(saved.get(section), dict):
            raise damaged(staging / "config.json", f"no {section!r} section")
    state = read_json_object(state_file)
    data = state.get("data")
    data = data if isinstance(data, dict) else {}
    for key in ("train", "dev"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise damaged(state_file, f"no data.{key}")
    embeddings = data.get("embeddings")
    if embeddings is not None and not isinstance(embeddings, str):
        raise damaged(state_file, "data.embeddings is not a path")
    config = Config.from_dict({k: saved[k] for k in ("model", "train", "data")}, str(staging / "config.json"))
    saved_fit = state.get("final_fit")
    fit = None
    if saved_fit is not None:
        fit = _saved_final_fit(saved_fit, state_file)
    return data["train"], data["dev"], config, embeddings or None, fit


def damaged(path: Path, what: str) -> TaggerError:
    return TaggerError(f"{path}: damaged resume state: {what}; start the run afresh with --output")


def _saved_final_fit(saved: Any, state_file: Path) -> FinalFit:
    """The ``FinalFit`` an interrupted final fit saved in its state."""
    if not isinstance(saved, dict):
        raise damaged(state_file, "final_fit is not an object")
    kinds: dict[str, tuple[type, ...]] = {"selection": (str,), "epochs": (int,), "selection_dev": (int, float)}
    for key, kind in kinds.items():
        if key not in saved:
            raise damaged(state_file, f"final_fit has no {key}")
        if not isinstance(saved[key], kind) or isinstance(saved[key], bool):
            raise damaged(state_file, f"final_fit.{key} is {saved[key]!r}")
    runs, best = saved.get("runs", ()), saved.get("best_epochs", ())  # older states have neither
    if not isinstance(runs, list | tuple) or not all(isinstance(r, str) for r in runs):
        raise damaged(state_file, "final_fit.runs is not a list of paths")
    if not isinstance(best, list | tuple) or not all(isinstance(e, int) and not isinstance(e, bool) for e in best):
        raise damaged(state_file, "final_fit.best_epochs is not a list of epochs")
    return FinalFit(saved["selection"], saved["epochs"], float(saved["selection_dev"]), tuple(runs), tuple(best))


def resume_vocab(staging: Path) -> Vocab:
    try:
        return Vocab.from_json(runstate.read_static(staging)[1])
    except KeyError as exc:
        raise damaged(staging / "vocab.json", f"no {exc}") from None
    except (TypeError, ValueError) as exc:
        raise damaged(staging / "vocab.json", str(exc)) from None
