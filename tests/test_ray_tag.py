"""Tagging on Ray Data gives what ``tagger tag`` gives, record by record, and reports
bad records the same way. A local Ray instance with two CPUs, one actor (and once two:
the pool must still leave the read tasks a CPU). Skipped, with the reason, where Ray is not installed."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tagger.errors import CorpusError, TaggerError
from tests.conftest import MODELS, ROOT

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install '.[ray]')")

NER = str(MODELS / "ner-en-conll03")
RECORDS = [
    '{"id": "a", "text": "Angela Merkel visited Paris."}',
    '{"id": 7, "text": "John lives in Berlin. He works for Acme Corp."}',
    "not json",
    "",
    '{"text": "The U.S. Army said so."}',
    '{"id": "b", "txt": "a typo in the field name"}',
    '{"id": "c", "text": "Reuters reported it from London."}',
]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _tagger_tag(path: Path) -> tuple[list[dict], str]:
    command = [sys.executable, "-m", "tagger", "tag", str(path), "--model", NER, "--skip-errors", "--quiet"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=True)
    return [json.loads(line) for line in done.stdout.splitlines()], done.stderr


def test_ray_output_equals_tagger_tag_record_by_record(local_ray: None, tmp_path: Path) -> None:
    from tagger.ray_tag import tag_with_ray

    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text("\n".join(RECORDS) + "\n", encoding="utf-8")
    second.write_text("\n".join(reversed(RECORDS[:2])) + "\n", encoding="utf-8")
    log = io.StringIO()
    stats = tag_with_ray([first, second], tmp_path / "out", [NER], "jsonl", skip_errors=True, log=log, progress=False)
    for source in (first, second):
        expected, _ = _tagger_tag(source)
        got = [json.loads(line) for line in (tmp_path / "out" / f"{source.stem}.jsonl").read_text().splitlines()]
        assert got == expected  # ids, order, tokens, labels, scores, entities
    # The same bad records, with the same file and line, as tagger tag reports them.
    assert log.getvalue().splitlines() == [line for line in _tagger_tag(first)[1].splitlines() if "skipped" in line]
    assert stats.skipped == 2 and stats.documents == 4 + 2 and stats.tokens > 0


def test_a_bad_record_stops_the_run_after_the_good_ones_before_it(local_ray: None, tmp_path: Path) -> None:
    from tagger.ray_tag import tag_with_ray

    source = tmp_path / "docs.jsonl"
    source.write_text("\n".join(RECORDS) + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=f"{source}:3: invalid JSON"):
        tag_with_ray([source], tmp_path / "out", [NER], "jsonl", progress=False)
    written = (tmp_path / "out" / "docs.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in written] == ["a", "7"]


def test_inputs_whose_outputs_would_collide_are_refused(tmp_path: Path) -> None:
    from tagger.ray_tag import output_paths

    (tmp_path / "x").mkdir()
    with pytest.raises(TaggerError, match="another input has the name 'docs'"):
        output_paths([tmp_path / "docs.jsonl", tmp_path / "x" / "docs.txt"], tmp_path / "out")


def test_as_many_actors_as_cpus_still_leaves_the_readers_a_cpu(local_ray: None, tmp_path: Path) -> None:
    """Two actors on a two-CPU instance: with a whole CPU per actor the read tasks were
    never scheduled and the run waited for ever."""
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures import TimeoutError as Timeout

    from tagger.ray_tag import tag_with_ray

    source = tmp_path / "docs.jsonl"
    source.write_text("\n".join(RECORDS[:2] * 20) + "\n", encoding="utf-8")
    with ThreadPoolExecutor(1) as pool:
        run = pool.submit(tag_with_ray, [source], tmp_path / "out", [NER], "jsonl", actors=2, progress=False)
        try:
            stats = run.result(timeout=150)
        except Timeout:
            ray.shutdown()  # frees the waiting thread
            pytest.fail("tag_with_ray with 2 actors on 2 CPUs did not finish in 150 s")
    assert stats.documents == 40
    expected, _ = _tagger_tag(source)
    assert [json.loads(line) for line in (tmp_path / "out" / "docs.jsonl").read_text().splitlines()] == expected


@pytest.mark.parametrize(
    ("cpus", "actors", "share"),
    [(2, 1, 1.0), (2, 2, 0.5), (16, 16, 15 / 16), (1, 1, 0.5), (2, 4, 0.25), (64, 8, 1.0)],
)
def test_actors_ask_for_a_whole_cpu_unless_that_starves_the_readers(cpus: int, actors: int, share: float) -> None:
    from tagger.ray_tag import actor_cpus

    assert actor_cpus(cpus, actors) == pytest.approx(share)
