"""Ship one training run into models/ and record, in its metrics.json and card, how
every recipe compared: per recipe, each seed's dev score as given, lower-cased and
upper-cased, its held-out train slice and best epoch, with mean and spread.

Usage:
  collect_seeds.py SHIPPED_RUN TARGET_DIR --recipe NAME RUN [RUN ...] [--recipe NAME RUN ...]
                   [--reference NAME MODEL_DIR]

``--reference`` adds an earlier model whose seed runs are gone: its dev score per seed
from its metrics.json, the re-cased dev scores of the directory itself (one run).
``--earlier METRICS_JSON`` keeps the recipe rows of an earlier card (its runs are gone:
the rows are copied as they were scored then), after this run's own rows.

The shipped run's own recipe is the one whose runs include it, or, for a final fit,
its selection run's. Every run is scored again here with the current inference code,
so the card is exactly what `tagger evaluate` prints on the float backends (torch, onnx).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

import torch

from tagger import checkpoint
from tagger.card import write_card
from tagger.checkpoint import write_json
from tagger.evaluate import evaluate
from tagger.labeler import Labeler
from tagger.train import load_data, split_holdout

SHIPPED_FILES = ("config.json", "vocab.json", "model.safetensors", "metrics.json", "training_curves.png")
CASINGS = ("as-is", "lower", "upper")


def score_run(run: Path) -> dict[str, Any] | None:
    """One run's row: dev under each casing, held-out slice, best epoch."""
    metrics = json.loads((run / "metrics.json").read_text())
    if "dev" not in metrics:
        print(f"skipping {run}: not finished", file=sys.stderr)
        return None
    loaded = checkpoint.load(run)
    labeler = Labeler([loaded], torch.device("cpu"))
    dev = load_data(metrics["data"]["dev"], loaded.config)
    row: dict[str, Any] = {"run": str(run), "seed": metrics["seed"], "best_epoch": metrics["best_epoch"]}
    for casing in CASINGS:
        row[f"dev_{casing}"] = evaluate(labeler, loaded.name, dev, casing)["main"]  # type: ignore[arg-type]
    held_out = score_holdout(labeler, loaded, metrics)
    row["holdout"] = held_out["main"] if held_out else None
    row["trained_on_dev"] = bool(metrics.get("trained_on_dev"))
    row["seconds_per_epoch"] = metrics.get("seconds_per_epoch")
    return row


def score_holdout(labeler: Labeler, loaded: checkpoint.LoadedModel, metrics: dict[str, Any]) -> dict[str, Any] | None:
    """The run's held-out slice of train scored again (None where it has none), so that an
    inference setting changed in config.json since training (``document_consistency``)
    counts there as on dev."""
    share = loaded.config.train.holdout_share
    if not isinstance(metrics.get("holdout"), dict) or share <= 0:
        return None
    _, held_out = split_holdout(load_data(metrics["data"]["train"], loaded.config), share)
    return {"share": share, "sentences": len(held_out), **evaluate(labeler, loaded.name, held_out)}


def rescore_model(directory: Path, metrics: dict[str, Any]) -> None:
    """A model directory's own scores in ``metrics`` (dev, re-cased dev, held-out slice)
    measured again with the current code and its config.json."""
    loaded = checkpoint.load(directory)
    labeler = Labeler([loaded], torch.device("cpu"))
    dev = load_data(metrics["data"]["dev"], loaded.config)
    metrics["dev"] = evaluate(labeler, loaded.name, dev)
    metrics["dev_casing"] = {c: evaluate(labeler, loaded.name, dev, c)["main"] for c in CASINGS[1:]}  # type: ignore[arg-type]
    held_out = score_holdout(labeler, loaded, metrics)
    if held_out is not None:
        metrics["holdout"] = held_out


def seed_table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The card's seed table (metrics.json "seeds") from a recipe's scored runs."""
    return [{"seed": r["seed"], "dev_main": r["dev_as-is"], "best_epoch": r["best_epoch"]} for r in rows]


def summarise(name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {"name": name, "runs": rows}
    for key in [f"dev_{c}" for c in CASINGS] + ["holdout"]:
        values = [r[key] for r in rows if r[key] is not None]
        if values:
            summary[key] = {
                "mean": statistics.mean(values),
                "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                "n": len(values),
            }
    return summary


def earlier_recipes(metrics_path: Path) -> list[dict[str, Any]]:
    """The recipe rows of an earlier card, named as runs of an earlier session; its
    shipped final fit becomes "shipped before", what it called that "shipped first"."""
    rows = json.loads(metrics_path.read_text()).get("recipes", [])
    kept = []
    for recipe in rows:
        name = str(recipe["name"])
        if "(shipped before)" in name:
            name = name.replace("(shipped before)", "(shipped first)")
        elif "(shipped)" in name:
            name = name.replace("(shipped)", "(shipped before)")
        elif "(the shipped recipe)" in name:
            name = name.replace("(the shipped recipe)", "(the recipe before, earlier runs)")
        else:
            name += " (earlier runs)"
        kept.append({**recipe, "name": name})
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shipped", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--recipe", nargs="+", action="append", default=[], metavar=("NAME", "RUN"))
    parser.add_argument("--reference", nargs=2, action="append", default=[], metavar=("NAME", "MODEL_DIR"))
    parser.add_argument("--earlier", type=Path, help="metrics.json of an earlier card whose recipe rows to keep")
    args = parser.parse_args()
    earlier = earlier_recipes(args.earlier) if args.earlier else []  # read first: the target may be that file
    shipped_metrics = json.loads((args.shipped / "metrics.json").read_text())
    fit = shipped_metrics.get("final_fit")
    selection = Path(fit["selection"]).resolve() if isinstance(fit, dict) else args.shipped.resolve()
    recipes, seeds = [], []
    for name, *runs in args.recipe:
        rows = [r for r in (score_run(Path(run)) for run in sorted(runs)) if r is not None]
        recipes.append(summarise(name, rows))
        if any(Path(r["run"]).resolve() == selection for r in rows):
            seeds = seed_table(rows)
    for name, directory in args.reference:
        row = score_run(Path(directory))
        if row is None:
            continue
        summary = summarise(name, [row])
        seed_devs = [s["dev_main"] for s in json.loads((Path(directory) / "metrics.json").read_text()).get("seeds", [])]
        if len(seed_devs) > 1:
            summary["dev_as-is"] = {
                "mean": statistics.mean(seed_devs),
                "std": statistics.stdev(seed_devs),
                "n": len(seed_devs),
            }
            summary["runs"] = [{**row, "seeds_dev": seed_devs}]
        recipes.append(summary)
    recipes.extend(earlier)
    out = args.target
    out.mkdir(parents=True, exist_ok=True)
    for name in SHIPPED_FILES:
        shutil.copy2(args.shipped / name, out / name)
    for path in out.iterdir():
        path.chmod(0o644)
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["seeds"] = sorted(seeds, key=lambda s: s["seed"])
    metrics["recipes"] = recipes
    metrics["dev_at_training"] = metrics["dev"]["main"]
    rescore_model(out, metrics)
    write_json(out / "metrics.json", metrics)
    write_card(out)
    for recipe in recipes:
        cells = [f"{k} {v['mean']:.4f}±{v['std']:.4f}" for k, v in recipe.items() if isinstance(v, dict)]
        print(f"{recipe['name']}: " + ", ".join(cells))


if __name__ == "__main__":
    main()
