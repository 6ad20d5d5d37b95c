from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.conftest import MODELS


def wait_ready(client: TestClient, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = client.get("/ready")
        if ready.status_code == 200:
            return
        if ready.json()["detail"] != "models are loading":
            raise AssertionError(f"models failed to load: {ready.json()['detail']}")
        time.sleep(0.05)
    raise AssertionError(f"not ready after {timeout}s: {client.get('/ready').json()}")


@contextmanager
def serving(**overrides: object) -> Iterator[TestClient]:
    settings = Settings(**overrides)  # type: ignore[arg-type]
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        yield client


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    if not (MODELS / "ner-en-conll03" / "model.safetensors").is_file():
        pytest.fail("the default models are missing from models/")
    with serving(max_texts=4, max_chars=500, max_tokens=200, max_body_bytes=20_000) as c:
        yield c
