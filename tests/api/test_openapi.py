"""The OpenAPI document matches the service: a bounded schemathesis run against a live
server, every check on, must find nothing."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import MODELS
from tests.server_process import running_server


def test_schemathesis_finds_no_failure(tmp_path: Path) -> None:
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if cli is None:
        pytest.fail("schemathesis is a dev dependency; install the project with [dev]")
    # A body over max_body_bytes gets 413, which schemathesis does not count as a refusal:
    # the limit is raised so that oversized fields meet their schema limits (422) instead.
    env = {**os.environ, "TAGGER_WARMUP": "false", "TAGGER_MAX_BODY_BYTES": "50000000"}
    command = [sys.executable, "-m", "tagger", "serve", "--model", str(MODELS / "ner-en-conll03")]
    with running_server(command, tmp_path, env) as http:
        import subprocess

        run = [
            cli,
            "run",
            str(http.base_url.join("/openapi.json")),
            "--checks",
            "all",
            "--max-examples",
            "40",
            "--no-color",
        ]
        done = subprocess.run(
            [*run, "--seed", "1", "--workers", "1"], capture_output=True, text=True, timeout=600, cwd=tmp_path
        )
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
