"""The report scripts keep what was measured before when runs are added: seed runs added
to a card's recipe row keep the rows whose runs are gone and recompute the spread from
all of them (add_seed_runs.py); re-run corpora replace their own rows of the default
training report and no other (default_training_report.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from add_seed_runs import merge_runs, selection_seeds
from default_training_report import merge


def _row(run: str, seed: int, dev: float) -> dict[str, Any]:
    return {
        "run": run,
        "seed": seed,
        "best_epoch": 10 + seed,
        "dev_as-is": dev,
        "dev_lower": dev - 0.01,
        "dev_upper": dev - 0.02,
        "holdout": None,
        "trained_on_dev": False,
        "seconds_per_epoch": 1.0,
    }


def test_merge_keeps_earlier_rows_and_recomputes_the_spread() -> None:
    recipe = {"name": "r", "runs": [_row("runs/s1", 1, 0.96)], "dev_as-is": {"mean": 0.96, "std": 0.0, "n": 1}}
    merged = merge_runs(recipe, [_row("runs/s3", 3, 0.95), _row("runs/s2", 2, 0.97)])
    assert [row["seed"] for row in merged["runs"]] == [1, 2, 3]
    assert merged["dev_as-is"]["n"] == 3
    assert merged["dev_as-is"]["mean"] == pytest.approx(0.96)
    assert merged["dev_as-is"]["std"] == pytest.approx(0.01)
    assert "holdout" not in merged  # no run has one


def test_a_run_added_again_replaces_its_row() -> None:
    recipe = {"name": "r", "runs": [_row("runs/s1", 1, 0.96)]}
    merged = merge_runs(recipe, [_row("runs/s1", 1, 0.90)])
    assert [row["dev_as-is"] for row in merged["runs"]] == [0.90]


def test_seed_table_only_for_the_recipe_of_the_selection_run() -> None:
    recipe = merge_runs({"name": "r", "runs": [_row("runs/s1", 1, 0.96)]}, [_row("runs/s2", 2, 0.97)])
    assert selection_seeds(recipe, "runs/s1") == [
        {"seed": 1, "dev_main": 0.96, "best_epoch": 11},
        {"seed": 2, "dev_main": 0.97, "best_epoch": 12},
    ]
    assert selection_seeds(recipe, "runs/other") is None


def test_default_training_rows_replaced_in_place_and_new_corpora_last() -> None:
    earlier = [{"corpus": "a", "dev": 0.1}, {"corpus": "b", "dev": 0.2}, {"corpus": "c", "dev": 0.3}]
    merged = merge(earlier, [{"corpus": "d", "dev": 0.4}, {"corpus": "b", "dev": 0.25}])
    assert merged == [
        {"corpus": "a", "dev": 0.1},
        {"corpus": "b", "dev": 0.25},
        {"corpus": "c", "dev": 0.3},
        {"corpus": "d", "dev": 0.4},
    ]
