"""The model card (README.md in a model directory) and the training-curve plot.

The card is generated from config.json, vocab.json and metrics.json, so its numbers
are always the ones measured; ``tagger info`` prints the same facts.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from tagger.modelfiles import dev_estimate, read_json_object


def write_curves(history: list[dict[str, Any]], path: Path) -> None:
    """Loss and dev score per epoch, side by side."""
    if not history:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(epochs, [h["loss"] for h in history], marker="o")
    left.set(title="training loss", xlabel="epoch")
    right.plot(epochs, [h["dev_score"] for h in history], marker="o", color="tab:green")
    right.set(title="dev score", xlabel="epoch")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    tmp.replace(path)


def facts(directory: Path) -> dict[str, Any]:
    """The facts a card states, read from the model directory's files."""
    config = read_json_object(directory / "config.json")
    vocab = read_json_object(directory / "vocab.json")
    metrics_path = directory / "metrics.json"
    metrics = read_json_object(metrics_path) if metrics_path.exists() else {}
    size = sum(f.stat().st_size for f in directory.iterdir() if f.is_file())
    found = metrics.get("dev")
    dev: dict[str, Any] = found if isinstance(found, dict) else {}
    estimate, trained_on_dev = dev_estimate(metrics)
    result: dict[str, Any] = {
        "name": directory.name,
        "task": config["task"],
        "label_scheme": config["label_scheme"],
        "labels": vocab["labels"],
        "vocabulary": len(vocab["words"]),
        "size_mb": round(size / 1e6, 2),
        "dev_estimate": estimate,  # what to expect on unseen data: the selection run's score for a final fit
        "trained_on_dev": trained_on_dev,
        "dev_main": dev.get("main"),  # this model's own score on dev (learnt, for a final fit)
        "dev_micro": dev.get("micro"),
        "dev_accuracy": dev.get("accuracy"),
        "best_epoch": metrics.get("best_epoch"),
        "epochs_run": metrics.get("epochs_run"),
        "seconds_per_epoch": metrics.get("seconds_per_epoch"),
        "data": metrics.get("data", {}),
        "seeds": metrics.get("seeds", []),
    }
    return result


def write_card(directory: Path) -> None:
    f = facts(directory)
    config = read_json_object(directory / "config.json")
    metrics = read_json_object(directory / "metrics.json")
    dev = metrics["dev"]
    data = f["data"]
    metric = "entity micro-F1 (seqeval, conlleval mode)" if f["task"] == "ner" else "token accuracy"
    lines = [
        f"# {f['name']}",
        "",
        f"Task: **{f['task']}** ({len(f['labels'])} labels, {f['label_scheme'].upper()} inside the model).",
        "",
    ]
    fit = metrics.get("final_fit")
    if isinstance(fit, dict):
        # The estimate first: the dev scores of a model trained on dev say nothing.
        lines += [
            f"**Estimated {metric}: {fit['selection_dev']:.4f}**, the "
            + (
                f"mean dev score of the {len(fit['runs'])} selection runs"
                if fit.get("runs")
                else "dev score of the selection run"
            )
            + '; this model was then trained on train and dev (see "Final fit" below).',
            "",
            "## Scores on the dev split (trained on: not an estimate)",
            "",
            f"- {metric}: {dev['main']:.4f}",
        ]
    else:
        lines += ["## Scores on the dev split", "", f"- {metric}: **{dev['main']:.4f}**"]
    if f["task"] == "ner":  # for POS the main score is the token accuracy, already stated
        micro, strict = dev["micro"], dev["strict"]["micro"]
        lines += [
            f"- token accuracy: {dev['accuracy']:.4f}",
            f"- micro precision {micro['precision']:.4f}, recall {micro['recall']:.4f}",
            f"- strict IOB2 micro-F1: {strict['f1']:.4f}",
            "",
            "| type | precision | recall | F1 | support |",
            "|---|---|---|---|---|",
        ]
        for name, row in dev["per_type"].items():
            lines.append(
                f"| {name} | {row['precision']:.4f} | {row['recall']:.4f} | {row['f1']:.4f} | {row['support']} |"
            )
    holdout = metrics.get("holdout")
    if isinstance(holdout, dict):
        lines += [
            "",
            f"Held-out slice of train (the last {holdout['share']:.0%} of its documents, {holdout['sentences']} "
            f"sentences, never trained or tuned on): **{holdout['main']:.4f}**.",
        ]
    lines += [
        "",
        "Scores on this card are the float model's (`tagger evaluate --backend torch`, or `onnx` once "
        "`tagger export-onnx` has made the exports, gives them). Where the int8 export exists, `--backend "
        'auto` runs it on CPUs with VNNI, and its scores differ slightly: the project README ("Inference '
        'backends") gives how much.',
    ]
    if isinstance(fit, dict):
        lines += [
            "",
            "## Final fit: dev was trained on",
            "",
            f"This model was trained on train **and dev** for {fit['epochs']} epochs, "
            + (
                f"the median best epoch of the selection runs {', '.join(f'`{r}`' for r in fit['runs'])} "
                f"(best at epochs {', '.join(str(e) for e in fit['best_epochs'])}), with their configuration. "
                if fit.get("runs")
                else f"the best epoch of the selection run `{fit['selection']}`, with the same configuration. "
            )
            + "The dev scores above are on data it was trained on and estimate nothing; the estimate is the "
            + ("selection runs' mean dev score" if fit.get("runs") else "selection run's dev score")
            + f": **{fit['selection_dev']:.4f}**.",
        ]
    consistency = config.get("model", {}).get("document_consistency", 0.0)
    if consistency:
        lines += [
            "",
            f"Inference: document consistency {consistency} (`document_consistency` in config.json): a name's "
            "entity type is pulled towards the types its other mentions in the same document get. The scores "
            "on this card are measured with it"
            + (", except the estimate, the selection runs' own dev score." if isinstance(fit, dict) else "."),
        ]
    casing = metrics.get("dev_casing")
    if isinstance(casing, dict):
        lines += ["", f"Dev with every token lower-cased: {casing['lower']:.4f}; upper-cased: {casing['upper']:.4f}."]
    averaged = metrics.get("averaged")
    if isinstance(averaged, dict):
        kept = "kept" if averaged.get("kept") else "not kept (the best epoch scored higher)"
        lines += ["", f"Weights averaged over epochs {averaged['epochs']}: dev {averaged['dev_score']:.4f}, {kept}."]
    seeds = f["seeds"]
    if seeds:
        values = [s["dev_main"] for s in seeds]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        lines += [
            "",
            f"## Seed spread ({len(values)} seeds, same command with `--seed N`)",
            "",
            f"Dev score mean **{statistics.mean(values):.4f}**, standard deviation {spread:.4f}.",
            "",
            "| seed | dev | best epoch |",
            "|---|---|---|",
        ]
        lines += [f"| {s['seed']} | {s['dev_main']:.4f} | {s['best_epoch']} |" for s in seeds]
    lines += _recipe_table(metrics.get("recipes"))
    trained_on = "train" if not holdout else f"train without its held-out slice ({holdout['share']:.0%} of documents)"
    trained_on += " **and dev**" if metrics.get("trained_on_dev") else "; dev only for choosing the epoch"
    lines += [
        "",
        "## Training",
        "",
        f"- trained on: {trained_on}",
        f"- train: `{data.get('train', '')}`; dev: `{data.get('dev', '')}`",
        f"- pretrained vectors: `{data.get('embeddings') or 'none'}`",
        f"- data licence: {data.get('licence') or 'see the corpus'}",
        f"- best epoch {f['best_epoch']} of {f['epochs_run']} run; "
        f"{f['seconds_per_epoch']} s per training epoch as logged during this run "
        f"({metrics.get('torch_threads')} torch thread(s); the seed runs shared the 2 cores pairwise)",
        f"- seed {metrics.get('seed')}",
    ]
    train_config = config.get("train", {})
    if train_config.get("teachers"):
        lines.append(
            f"- distilled (`tagger.distil`, weight {train_config.get('distil_weight')}): it also learnt the combined "
            f"label probabilities of {len(train_config['teachers'])} trained models, "
            + ", ".join(f"`{t}`" for t in train_config["teachers"])
        )
    timing = metrics.get("epoch_time_benchmark")
    if timing:
        lines.append(
            f"- wall time per training epoch on a quiet 2-core machine, {timing['threads']} torch threads: "
            f"median **{timing['median_seconds']:.1f} s** over {len(timing['epoch_seconds'])} epochs "
            "(`benchmarks/epoch_time.py`)"
        )
    lines += [
        "",
        "Command:",
        "",
        "```",
        data.get("command", ""),
        "```",
        "",
        "## Architecture",
        "",
        "```json",
        json.dumps(config["model"], indent=2),
        "```",
        "",
        f"Size on disk: {f['size_mb']} MB; vocabulary {f['vocabulary']} words.",
        "",
    ]
    from tagger.checkpoint import atomic_write_text  # torch: writing cards belongs to training

    atomic_write_text(directory / "README.md", "\n".join(lines))


def _mean_std(cell: Any) -> str:
    if not isinstance(cell, dict):
        return "-"
    if cell["n"] == 1:
        return f"{cell['mean']:.4f} (1 run)"
    return f"{cell['mean']:.4f} ± {cell['std']:.4f}"


def _recipe_table(recipes: Any) -> list[str]:
    """Every recipe tried for this model, seed mean ± standard deviation per column."""
    if not isinstance(recipes, list) or not recipes:
        return []
    lines = [
        "",
        "## Recipes compared (dev; mean ± standard deviation over seeds)",
        "",
        "Dev scores of a run trained on dev (a final fit) are marked: they estimate nothing.",
        "",
        "| recipe | seeds | dev | dev lower-cased | dev upper-cased | held-out train slice | best epochs |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in recipes:
        runs = r.get("runs", [])
        mark = " (trained on dev)" if any(x.get("trained_on_dev") for x in runs) else ""
        epochs = ", ".join(str(x["best_epoch"]) for x in runs)
        keys = ("dev_as-is", "dev_lower", "dev_upper", "holdout")
        cells = [_mean_std(r.get(k)) for k in keys]
        seeds = max([len(runs)] + [r[k]["n"] for k in keys if isinstance(r.get(k), dict)])
        lines.append(f"| {r['name']}{mark} | {seeds} | " + " | ".join(cells) + f" | {epochs} |")
    return lines
