"""Scaling-out paths on one machine: Ray Data tagging against ``tagger tag``, Ray's own
start-up cost, and a training epoch with 1 vs 2 DistributedDataParallel processes.

Tagging input: CoNLL-2003 train, detokenized with Moses, one JSONL record per document
(``-DOCSTART-``), repeated to about ``--mb`` MB (ids made unique per copy). Each setting is
one fresh process; tokens/s is over the whole process (start-up, model loading, reading,
tagging, writing), next to each command's own figure (``tagger tag`` leaves model loading
out; ``tag-ray`` counts from before Ray starts). NER model only. The settings take turns
over ``--repeats`` rounds, so noise on the shared machine hits all alike.

Ray start-up overhead: whole-process time of ``tag-ray`` (one actor) minus that of
``tagger tag --workers 1`` on a one-record file, median of ``--repeats``, and the
``ray.init`` share that ``tag-ray`` reports.

Training: ``tagger train --epochs N`` on CoNLL-2003 train with GloVe, as one process (2
threads, and 1 thread) and as ``torchrun --standalone --nproc-per-node 2`` (1 thread
each); seconds per epoch as rank 0 logs it in ``metrics.json`` (median of the epochs).

Usage: .venv/bin/python benchmarks/scale_out.py [--mb 50] [--repeats 1] [--epochs 2]
Writes benchmarks/results/scale_out.json. Needs Ray (pip install '.[ray]').
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.corpus_text import DATA  # noqa: E402
from tagger.corpus import read_corpus  # noqa: E402

NER = str(ROOT / "models" / "ner-en-conll03")
TAG_SUMMARY = re.compile(r"tagged (\d+) documents, (\d+) tokens in ([\d.]+)s \(([\d,]+) tokens/s\)")
RAY_SUMMARY = re.compile(
    r"tagged (\d+) documents, (\d+) tokens from \d+ files in ([\d.]+)s \(([\d,]+) tokens/s; Ray start-up ([\d.]+)s\)"
)


def write_corpus(path: Path, megabytes: float, data: Path) -> int:
    """CoNLL-2003 train as JSONL documents, repeated to ``megabytes``; returns records."""
    from sacremoses import MosesDetokenizer

    detok = MosesDetokenizer(lang="en")
    documents: dict[int, list[str]] = {}
    for sent in read_corpus(data / "conll2003" / "train.txt"):
        documents.setdefault(sent.document, []).append(detok.detokenize(sent.tokens))
    texts = [" ".join(sents) for sents in documents.values()]
    block_bytes = sum(len(json.dumps({"id": "d-00000-0000", "text": t})) + 1 for t in texts)
    copies = max(1, round(megabytes * 1e6 / block_bytes))
    records = 0
    with path.open("w", encoding="utf-8") as out:
        for copy in range(copies):
            for i, text in enumerate(texts):
                out.write(json.dumps({"id": f"d-{copy:05d}-{i:04d}", "text": text}) + "\n")
                records += 1
    return records


def run(command: list[str], pattern: re.Pattern[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env)
    wall = time.perf_counter() - started
    match = pattern.search(done.stderr)
    if done.returncode != 0 or match is None:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    tokens = int(match[2])
    result = {
        "documents": int(match[1]),
        "tokens": tokens,
        "wall_seconds": round(wall, 2),
        "tokens_per_s_whole_process": round(tokens / wall),
        "command_seconds": float(match[3]),
        "tokens_per_s_command": int(match[4].replace(",", "")),
    }
    if len(match.groups()) >= 5:
        result["ray_init_seconds"] = float(match[5])
    return result


def tag_command(source: Path, outdir: Path, engine: str, n: int) -> tuple[list[str], re.Pattern[str]]:
    py = sys.executable
    if engine == "ray":
        command = [py, "-m", "tagger", "tag-ray", str(source), "-o", str(outdir), "--actors", str(n)]
        return [*command, "--model", NER], RAY_SUMMARY
    command = [py, "-m", "tagger", "tag", str(source), "-o", str(outdir / source.name), "--workers", str(n)]
    return [*command, "--model", NER], TAG_SUMMARY


def tagging(tmp: Path, megabytes: float, repeats: int, data: Path) -> dict[str, Any]:
    source = tmp / "conll03-train-docs.jsonl"
    records = write_corpus(source, megabytes, data)
    settings = [("tag", 1), ("tag", 2), ("ray", 1), ("ray", 2)]
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {s: [] for s in settings}
    for _ in range(repeats):
        for engine, n in settings:
            outdir = tmp / f"out-{engine}-{n}"
            outdir.mkdir(exist_ok=True)
            command, pattern = tag_command(source, outdir, engine, n)
            runs[(engine, n)].append(run(command, pattern))
            print(json.dumps({"engine": engine, "n": n, **runs[(engine, n)][-1]}), flush=True)
    rows = []
    for (engine, n), results in runs.items():
        rows.append(
            {
                "command": f"tagger tag --workers {n}" if engine == "tag" else f"tagger tag-ray --actors {n}",
                "tokens": results[0]["tokens"],
                "tokens_per_s_whole_process_median": statistics.median(
                    r["tokens_per_s_whole_process"] for r in results
                ),
                "tokens_per_s_command_median": statistics.median(r["tokens_per_s_command"] for r in results),
                "runs": results,
            }
        )
    return {"input_mb": round(source.stat().st_size / 1e6, 1), "records": records, "settings": rows}


def ray_overhead(tmp: Path, repeats: int) -> dict[str, Any]:
    one = tmp / "one.jsonl"
    one.write_text(json.dumps({"id": 1, "text": "Angela Merkel visited Paris."}) + "\n", encoding="utf-8")
    walls: dict[str, list[float]] = {"tag": [], "ray": []}
    inits = []
    for _ in range(repeats):
        for engine in walls:
            outdir = tmp / f"one-{engine}"
            outdir.mkdir(exist_ok=True)
            command, pattern = tag_command(one, outdir, engine, 1)
            result = run(command, pattern)
            walls[engine].append(result["wall_seconds"])
            if engine == "ray":
                inits.append(result["ray_init_seconds"])
    tag, ray = statistics.median(walls["tag"]), statistics.median(walls["ray"])
    return {
        "tagger_tag_one_record_seconds": tag,
        "tag_ray_one_record_seconds": ray,
        "ray_overhead_seconds": round(ray - tag, 2),
        "ray_init_seconds_median": statistics.median(inits),
        "runs": walls,
    }


def epoch_seconds(tmp: Path, name: str, launcher: list[str], threads: int, epochs: int, data: Path) -> dict[str, Any]:
    out = tmp / name
    command = [*launcher, "-m", "tagger", "train", "--quiet", "--threads", str(threads), "--epochs", str(epochs)]
    command += ["--train", str(data / "conll2003" / "train.txt"), "--dev", str(data / "conll2003" / "valid.txt")]
    command += ["--embeddings", str(data / "glove" / "glove.6B.50d.top200k.txt.gz"), "--output", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    history = json.loads((out / "metrics.json").read_text())["history"]
    seconds = [h["train_seconds"] for h in history]
    row = {"setting": name, "seconds_per_epoch_median": round(statistics.median(seconds), 1), "epochs": seconds}
    print(json.dumps(row), flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50, help="size of the tagging input")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=2, help="training epochs per setting; 0 skips training")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", default="scale_out.json", help="file name under benchmarks/results")
    args = parser.parse_args()
    results: dict[str, Any] = {"cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        results["ray_overhead"] = ray_overhead(tmp, max(3, args.repeats))
        print(json.dumps(results["ray_overhead"]), flush=True)
        if args.mb > 0:
            results["tagging"] = tagging(tmp, args.mb, args.repeats, args.data)
        if args.epochs > 0:
            py = [sys.executable]
            torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
            results["training"] = [
                epoch_seconds(tmp, "1 process, 2 threads", py, 2, args.epochs, args.data),
                epoch_seconds(tmp, "1 process, 1 thread", py, 1, args.epochs, args.data),
                epoch_seconds(tmp, "torchrun, 2 processes x 1 thread", torchrun, 1, args.epochs, args.data),
            ]
    out = ROOT / "benchmarks" / "results" / args.out
    out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
