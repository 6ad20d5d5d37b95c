"""Batch tagging on a Ray cluster with Ray Data: many files, many machines.

The pipeline, in Ray Data terms:

1. ``read_binary_files``: each input file is one row, read by one task (as Ray's own
   ``read_text`` does: split a corpus into files of at most a few GB);
2. ``flat_map``: the file's records, cut by the same readers as ``tagger tag``
   (``tagger.io``), so a bad record names its file and line exactly as there;
3. ``map_batches`` over a fixed pool of actors (``ActorPoolStrategy``), each loading the
   models once and tagging through the same ``tag_chunk`` as ``tagger tag``'s workers;
   one GPU per actor where the cluster has GPUs;
4. the driver reads the results in input order (``preserve_order``) and writes one JSONL
   file per input file, ``OUTDIR/<input name>.jsonl``, records in input order with
   their ids.

A bad record stops the run after everything before it is written, or, with
``skip_errors``, is reported and skipped, as in ``tagger tag``.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tagger.errors import CorpusError, TaggerError
from tagger.io import Record, read_records

RAY_FORMATS = ("jsonl", "lines", "text")


@dataclass
class RayStats:
    files: int = 0
    documents: int = 0
    tokens: int = 0
    skipped: int = 0
    seconds: float = 0.0
    startup_seconds: float = 0.0  # connecting to (or starting) Ray


def file_records(input_format: str) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    """Ray ``flat_map`` function: one file row -> its record rows."""

    def split(row: dict[str, Any]) -> list[dict[str, Any]]:
        rows = []
        for record in read_records(io.BytesIO(row["bytes"]), input_format):  # type: ignore[arg-type]
            rows.append(
                {
                    "path": row["path"],
                    "line": record.where,
                    "id": record.id,
                    "text": record.text,
                    "error": record.error,
                }
            )
        return rows

    return split


class TaggingActor:
    """One Ray actor: the models, loaded once, tagging batches of record rows."""

    def __init__(self, models: Sequence[str], device: str | None, batch_tokens: int, threads: int) -> None:
        from tagger.device import set_threads
        from tagger.heap import settle_after_loading
        from tagger.pipeline import Tagger

        set_threads(threads)
        self.tagger = Tagger.load(list(models), device=device, batch_tokens=batch_tokens)
        settle_after_loading()

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        from tagger.tagfiles import Chunk, tag_chunk

        count = len(batch["path"])
        errors = [_value(e) for e in batch["error"]]
        good = [i for i in range(count) if errors[i] is None]
        records = [Record(int(batch["line"][i]), id=_value(batch["id"][i]), text=batch["text"][i]) for i in good]
        outputs = [""] * count
        tokens = [0] * count
        if records:
            text, _, tagged_tokens = tag_chunk(self.tagger, Chunk(records, "jsonl"))
            for i, line in zip(good, text.splitlines(keepends=True), strict=True):
                outputs[i] = line
            tokens[good[0]] = tagged_tokens
        return {
            "path": list(batch["path"]),
            "line": list(batch["line"]),
            "error": errors,
            "output": outputs,
            "tokens": tokens,
        }


def actor_cpus(cluster_cpus: float, actors: int) -> float:
    """CPUs each tagging actor asks Ray for: a whole one, unless the pool would then hold
    every CPU of the cluster. The read and record-splitting tasks need a CPU too, and Ray
    schedules nothing without one, so a pool as large as the cluster (``--actors 2`` on a
    2-core machine) would wait for ever; its actors share what is left after one CPU (half
    of a 1-CPU cluster) is kept for the readers. Threads are set per actor, not by this."""
    readers = min(1.0, cluster_cpus / 2)
    return min(1.0, (cluster_cpus - readers) / actors)


def _value(cell: Any) -> Any:
    """A cell of a pandas batch, with pandas' missing values (NaN, NA) turned back to None."""
    if cell is None:
        return None
    import pandas

    return None if isinstance(cell, float | type(pandas.NA)) and pandas.isna(cell) else cell


def output_paths(inputs: Sequence[Path], outdir: Path) -> dict[str, Path]:
    """Input path -> its output file; two inputs of one name would overwrite each other."""
    targets: dict[str, Path] = {}
    for path in inputs:
        target = outdir / f"{path.stem}.jsonl"
        if target in targets.values():
            raise TaggerError(f"{path}: another input has the name {path.stem!r}; its output would be {target} too")
        targets[str(path)] = target
    return targets


def tag_with_ray(
    inputs: Sequence[Path],
    outdir: Path,
    models: Sequence[str],
    input_format: str = "jsonl",
    address: str = "local",
    actors: int = 1,
    device: str | None = None,
    batch_tokens: int = 4096,
    records_per_batch: int = 256,
    skip_errors: bool = False,
    log: IO[str] = sys.stderr,
    progress: bool = True,
) -> RayStats:
    """Tag ``inputs`` on Ray (``address``: "local" starts one here, "auto" joins the
    running cluster, or ``ray://host:port``) into ``outdir``."""
    import time

    try:
        import ray
    except ImportError:
        raise TaggerError("--engine ray needs Ray: pip install 'tagger[ray]'") from None
    if input_format not in RAY_FORMATS:
        raise TaggerError(f"--engine ray reads {', '.join(RAY_FORMATS)} files, not {input_format}")
    for path in inputs:
        if not path.is_file():
            raise TaggerError(f"{path}: no such file")
    targets = output_paths(inputs, outdir)
    stats = RayStats(files=len(inputs))
    started = time.perf_counter()
    if not ray.is_initialized():
        ray.init(address=None if address == "local" else address, log_to_driver=False, include_dashboard=False)
    stats.startup_seconds = time.perf_counter() - started
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # records come back in input order
    context.enable_progress_bars = progress
    gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 and device in (None, "auto", "cuda") else 0
    dataset = ray.data.read_binary_files([str(p) for p in inputs], include_paths=True)
    dataset = dataset.flat_map(file_records(input_format))
    dataset = dataset.map_batches(
        TaggingActor,
        fn_constructor_kwargs={
            "models": [str(m) for m in models],
            "device": "cuda" if gpus else "cpu",
            "batch_tokens": batch_tokens,
            "threads": 1,
        },
        compute=ray.data.ActorPoolStrategy(size=actors),
        batch_size=records_per_batch,
        batch_format="pandas",
        num_cpus=actor_cpus(ray.cluster_resources().get("CPU", 1), actors),
        num_gpus=gpus,
    )
    outdir.mkdir(parents=True, exist_ok=True)
    files = {path: target.open("w", encoding="utf-8") for path, target in targets.items()}
    by_name = {Path(p).resolve(): p for p in targets}
    try:
        for row in dataset.iter_rows():
            path = by_name.get(Path(row["path"]).resolve(), row["path"])
            problem = _value(row["error"])
            if problem is not None:
                error = CorpusError(path, int(row["line"]), problem)
                if not skip_errors:
                    raise error
                stats.skipped += 1
                print(f"skipped {error}", file=log)
                continue
            files[path].write(row["output"])
            stats.documents += 1
            stats.tokens += int(row["tokens"])
    finally:
        for out in files.values():
            out.close()
        stats.seconds = time.perf_counter() - started
    return stats
