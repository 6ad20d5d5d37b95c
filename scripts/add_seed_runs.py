"""Add seed runs to a recipe row of a shipped model's card, without reshipping it.

A recipe may be reported with fewer seeds than it should have (a run stopped for time).
Its other runs may be gone, but their rows are in the model's metrics.json, scored when
the card was made; this scores the new runs the same way (`collect_seeds.score_run`),
merges them into the row of the same name, recomputes its mean and spread and, where the
row holds the run the model was selected from, the seed table, and rewrites the card.

``--new-recipe NAME RUN ...`` adds a row of its own after the shipped recipe's; ``--rescore``
measures the model's own dev, re-cased dev and held-out scores again, for an inference
setting changed in its config.json (``document_consistency``) without retraining.

Usage: add_seed_runs.py MODEL_DIR [--recipe NAME RUN [RUN ...]] [--new-recipe NAME RUN ...] [--rescore]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tagger.card import write_card
from tagger.checkpoint import write_json

sys.path.insert(0, str(Path(__file__).resolve().parent))
from collect_seeds import rescore_model, score_run, seed_table, summarise


def merge_runs(recipe: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The recipe with ``rows`` added; a run already in it (same path) is replaced."""
    new_paths = {row["run"] for row in rows}
    kept = [row for row in recipe["runs"] if row["run"] not in new_paths]
    merged = sorted(kept + rows, key=lambda row: (row["seed"], row["run"]))
    return {**recipe, **summarise(recipe["name"], merged)}


def selection_seeds(recipe: dict[str, Any], selection: str) -> list[dict[str, Any]] | None:
    """The seed table, where ``recipe`` holds the run the model was selected from."""
    if not any(row["run"] == selection for row in recipe["runs"]):
        return None
    return seed_table(recipe["runs"])


def _cells(recipe: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v['mean']:.4f}±{v['std']:.4f}" for k, v in recipe.items() if isinstance(v, dict))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--recipe", nargs="+", action="append", default=[], metavar=("NAME", "RUN"))
    parser.add_argument("--new-recipe", nargs="+", action="append", default=[], metavar=("NAME", "RUN"))
    parser.add_argument("--rescore", action="store_true", help="score the model itself again")
    args = parser.parse_args()
    path = args.model_dir / "metrics.json"
    metrics = json.loads(path.read_text())
    recipes: list[dict[str, Any]] = metrics.get("recipes", [])
    fit = metrics.get("final_fit")
    selection = str(fit["selection"]) if isinstance(fit, dict) else None
    for name, *runs in args.recipe:
        index = next((i for i, recipe in enumerate(recipes) if recipe["name"] == name), None)
        if index is None:
            sys.exit(f"{path}: no recipe named {name!r}; its recipes: {[r['name'] for r in recipes]}")
        rows = [row for row in (score_run(Path(run)) for run in sorted(runs)) if row is not None]
        recipes[index] = merge_runs(recipes[index], rows)
        seeds = selection_seeds(recipes[index], selection) if selection else None
        if seeds is not None:
            metrics["seeds"] = seeds
        print(f"{name}: {_cells(recipes[index])}")
    for offset, (name, *runs) in enumerate(args.new_recipe, start=1):
        if any(recipe["name"] == name for recipe in recipes):
            sys.exit(f"{path}: a recipe named {name!r} is there already; add its runs with --recipe")
        rows = [row for row in (score_run(Path(run)) for run in sorted(runs)) if row is not None]
        recipes.insert(min(offset, len(recipes)), summarise(name, rows))
        print(f"{name} (new): {_cells(recipes[offset])}")
    if args.rescore:
        rescore_model(args.model_dir, metrics)
    metrics["recipes"] = recipes
    write_json(path, metrics)
    write_card(args.model_dir)


if __name__ == "__main__":
    main()
