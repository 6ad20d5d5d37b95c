"""Final fits: a model trained on train + dev for the epochs that finished selection
runs (one, or several seeds of one recipe) chose on dev, and the checks that keep a final
fit from resting on a run that cannot vouch for it (interrupted, diverged, itself a final
fit, malformed) or from writing over one of them."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tagger.config import Config
from tagger.errors import TaggerError
from tagger.modelfiles import read_json_object


@dataclass(frozen=True)
class FinalFit:
    """What a final fit takes from its selection runs (one, or several seeds of one recipe)."""

    selection: str  # the (first) selection run's model directory: its configuration is used
    epochs: int  # the median of their best epochs: the final fit trains exactly this long
    selection_dev: float  # their mean dev score, the estimate the final model's card reports
    runs: tuple[str, ...] = ()  # every selection run, where there were several
    best_epochs: tuple[int, ...] = ()  # their best epochs, in the same order


def _selection_run(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """metrics.json and config.json of a finished selection run, checked: every field
    the final fit takes from them is there and in range."""
    metrics_path = path / "metrics.json"
    metrics = read_json_object(metrics_path)
    raw = read_json_object(path / "config.json")
    best_epoch = metrics.get("best_epoch")
    if not isinstance(best_epoch, int) or isinstance(best_epoch, bool) or not isinstance(metrics.get("dev"), dict):
        raise TaggerError(f"{path}: not a finished training run (metrics.json has no best_epoch and dev scores)")
    if metrics.get("trained_on_dev"):
        raise TaggerError(f"{path}: is itself a final fit; give the selection run it came from")
    interrupted = metrics.get("interrupted", False)
    if not isinstance(interrupted, bool):
        raise TaggerError(f"{metrics_path}: interrupted must be true or false, found {interrupted!r}")
    if interrupted:
        raise TaggerError(
            f"{metrics_path}: interrupted: true; an interrupted run's best epoch is not the one it would have "
            f"chosen: finish it (tagger train --resume {path}) or give a finished run"
        )
    if metrics.get("diverged"):
        raise TaggerError(f"{metrics_path}: the run diverged; its best epoch is not a finished run's choice")
    if "main" not in metrics["dev"]:
        raise TaggerError(f"{metrics_path}: dev has no main score")
    main = metrics["dev"]["main"]
    if not isinstance(main, int | float) or isinstance(main, bool) or not math.isfinite(main):
        raise TaggerError(f"{metrics_path}: dev.main must be a number, found {main!r}")
    if not 1 <= best_epoch <= EPOCH_LIMIT:
        raise TaggerError(f"{metrics_path}: best_epoch must be 1 to {EPOCH_LIMIT}, found {best_epoch}")
    for section in ("model", "train", "data"):
        if section not in raw:
            raise TaggerError(f"{path / 'config.json'}: has no section {section!r}")
        if not isinstance(raw[section], dict):
            raise TaggerError(f"{path / 'config.json'}: section {section!r} must be a mapping")
    return metrics, raw


EPOCH_LIMIT = 100_000  # TrainConfig.epochs' bound


# Settings seeds of one recipe may differ in: the seed, and where and how fast they ran.
SEED_ONLY = {("train", "seed"), ("train", "threads"), ("train", "device")}


def _settings_but_seed(raw: dict[str, Any], source: str) -> dict[str, Any]:
    """A run's settings as this version reads them (a setting newer than the run has its
    default), less those seeds of one recipe may differ in."""
    full = Config.from_dict({k: raw[k] for k in ("model", "train", "data")}, source).to_dict()
    return {k: {f: v for f, v in full[k].items() if (k, f) not in SEED_ONLY} for k in ("model", "train", "data")}


def final_fit_from(*selections: str | Path) -> tuple[FinalFit, Config]:
    """The epochs and dev score of finished selection runs, and their configuration.

    With several runs (seeds of one recipe) the epoch count is their median best epoch:
    one seed's best epoch is itself noisy (the shipped recipe's seeds were best at
    epochs 12, 15 and 16 on EWT), and the count should belong to the recipe, not to
    one seed. The runs must agree on every setting but the seed."""
    if not selections:
        raise TaggerError("--final-fit needs at least one selection run")
    paths = [Path(s) for s in selections]
    seen: dict[Path, Path] = {}
    for path in paths:
        if path.resolve() in seen:
            raise TaggerError(f"{path}: given twice to --final-fit (the same run as {seen[path.resolve()]})")
        seen[path.resolve()] = path
    runs = [_selection_run(path) for path in paths]
    first_settings = _settings_but_seed(runs[0][1], str(paths[0] / "config.json"))
    for path, (_, raw) in zip(paths[1:], runs[1:], strict=True):
        settings = _settings_but_seed(raw, str(path / "config.json"))
        differing = [
            f"{k}.{f}"
            for k in first_settings
            for f in sorted(set(first_settings[k]) | set(settings[k]))
            if first_settings[k].get(f) != settings[k].get(f)
        ]
        if differing:
            raise TaggerError(
                f"{path}: not a seed of the recipe of {paths[0]}: its config.json differs in {', '.join(differing)}"
            )
    raw = runs[0][1]
    config = Config.from_dict({k: raw[k] for k in ("model", "train", "data")}, str(paths[0] / "config.json"))
    best = [int(metrics["best_epoch"]) for metrics, _ in runs]
    dev = statistics.mean(float(metrics["dev"]["main"]) for metrics, _ in runs)
    if len(paths) == 1:
        return FinalFit(str(paths[0]), best[0], dev), config
    epochs = int(statistics.median_low(best))  # an epoch some run was best at
    return FinalFit(str(paths[0]), epochs, dev, tuple(str(p) for p in paths), tuple(best)), config


def check_final_fit_output(final_fit: FinalFit, output: Path) -> None:
    """A final fit writes a model of its own: never over a run it was selected from."""
    target = output.resolve()
    for run in final_fit.runs or (final_fit.selection,):
        if Path(run).resolve() == target:
            raise TaggerError(
                f"{output}: is the selection run of this final fit ({run}); give the final fit an --output of its own"
            )
