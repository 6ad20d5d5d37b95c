from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import serving
from tests.server_process import running_server

TEXTS = [
    "Angela Merkel visited Paris on Monday.",
    "The European Union rejected the German call to boycott British lamb.",
    "Peter Blackburn lives in Brussels.",
    "Shares of Apple Inc. rose 3 percent in New York trading.",
    "I don't think so, said John Smith.",
    "Manchester United beat Arsenal 2-1 at Old Trafford on Saturday.",
    "Nothing to see here.",
    "The U.S. Treasury and the IMF met in Washington.",
]


def labels_and_entities(body: dict) -> tuple[list, list]:
    doc = body["documents"][0]
    labels = [[{m: v["label"] for m, v in t["labels"].items()} for t in s] for s in doc["sentences"]]
    ents = [(e["text"], e["label"], e["start"], e["end"], e["model"]) for e in doc["entities"]]
    return labels, ents


def test_concurrent_requests_share_passes_with_identical_results() -> None:
    with serving(max_wait_ms=50.0) as client:
        alone = [client.post("/tag", json={"text": t}).json() for t in TEXTS]
        before = _merge_stats(client.get("/metrics").text)
        results: dict[int, dict] = {}
        barrier = threading.Barrier(len(TEXTS))

        def call(i: int) -> None:
            barrier.wait()
            results[i] = client.post("/tag", json={"text": TEXTS[i]}).json()

        threads = [threading.Thread(target=call, args=(i,)) for i in range(len(TEXTS))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        after = _merge_stats(client.get("/metrics").text)
        passes = after[0] - before[0]
        requests = after[1] - before[1]
        assert requests == len(TEXTS)
        assert passes < len(TEXTS), "concurrent requests were not merged into shared forward passes"
        for i in range(len(TEXTS)):
            assert labels_and_entities(results[i]) == labels_and_entities(alone[i])
            scores_a = [e["score"] for e in results[i]["documents"][0]["entities"]]
            scores_b = [e["score"] for e in alone[i]["documents"][0]["entities"]]
            assert scores_a == pytest.approx(scores_b, abs=1e-3)


def _merge_stats(metrics: str) -> tuple[float, float]:
    """(forward passes, requests served) from the merged-requests histogram."""
    count = total = 0.0
    for line in metrics.splitlines():
        if line.startswith("tagger_merged_requests_count"):
            count = float(line.split()[-1])
        elif line.startswith("tagger_merged_requests_sum"):
            total = float(line.split()[-1])
    return count, total


def test_real_uvicorn_process_answers_over_loopback(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "tagger", "serve", "--host", "127.0.0.1"]
    with running_server(command, tmp_path, env) as http:
        r = http.post("/tag", json={"text": "Angela Merkel visited Paris."})
        assert r.status_code == 200
        ents = [(e["text"], e["label"]) for e in r.json()["documents"][0]["entities"]]
        assert ents == [("Angela Merkel", "PER"), ("Paris", "LOC")]
        assert http.get("/health").json() == {"status": "alive"}


def test_several_worker_processes_serve_the_models_named_on_the_command_line(tmp_path: Path) -> None:
    from tests.conftest import MODELS

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "tagger", "serve", "--workers", "2", "--model", str(MODELS / "ner-en-conll03")]
    pids: list[int] = []
    with running_server(command, tmp_path, env, pids) as http:
        children = Path(f"/proc/{pids[0]}/task/{pids[0]}/children").read_text().split()
        cmdlines = [Path(f"/proc/{c}/cmdline").read_bytes() for c in children]
        assert sum(b"spawn_main" in c and b"resource_tracker" not in c for c in cmdlines) == 2
        assert [m["name"] for m in http.get("/models").json()] == ["ner-en-conll03"]
        for _ in range(6):  # the kernel spreads new connections between the workers; each must answer alike
            with httpx.Client(base_url=str(http.base_url), timeout=10) as fresh:
                while fresh.get("/ready").status_code != 200:  # the other worker may still be loading
                    time.sleep(0.1)
                r = fresh.post("/tag", json={"text": "Angela Merkel visited Paris."})
            assert r.status_code == 200
            assert [(e["text"], e["label"]) for e in r.json()["documents"][0]["entities"]] == [
                ("Angela Merkel", "PER"),
                ("Paris", "LOC"),
            ]
