"""The image cannot be built here (no Docker engine), so its contract is checked by parsing."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

DOCKERFILE = ROOT / "Dockerfile"


def stages() -> dict[str, list[tuple[str, str]]]:
    """Stage name -> (instruction, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result: dict[str, list[tuple[str, str]]] = {}
    current = "_"
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, args = line.partition(" ")
        if instruction.upper() == "FROM":
            current = args.split(" AS ")[-1].strip() if " AS " in args else args
            result[current] = []
        result.setdefault(current, []).append((instruction.upper(), args.strip()))
    return result


def test_runtime_stage_contract() -> None:
    instructions = stages()["app"]
    users = [a for i, a in instructions if i == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    cmds = [a for i, a in instructions if i == "CMD"]
    command = json.loads(cmds[-1])  # exec form is a JSON array
    assert command == ["tagger", "serve", "--host", "0.0.0.0", "--port", "8000"]
    assert ("EXPOSE", "8000") in instructions
    runs = " ".join(a for i, a in instructions if i == "RUN")
    # The image installs with the exact script the wheel test runs.
    assert "sh /tmp/install_wheel.sh /opt/tagger/bin/python /wheels/tagger-0.1.0-py3-none-any.whl" in runs


def test_cpu_image_is_the_default_and_cuda_a_build_argument() -> None:
    names = list(stages())
    assert names[-1] == "app"
    args = dict(a.split("=", 1) for i, a in stages()["app"] if i == "ARG")
    assert args["TORCH_INDEX"] == "https://download.pytorch.org/whl/cpu"
    assert "--build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128" in DOCKERFILE.read_text()


def test_wheel_version_in_dockerfile_matches_project() -> None:
    version = re.search(r'^version = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert version and f"tagger-{version.group(1)}-py3-none-any.whl" in DOCKERFILE.read_text()


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "runs", "tests"} <= set(ignored)


def test_hadolint_is_clean() -> None:
    hadolint = shutil.which("hadolint") or str(Path(__file__).parents[1] / ".venv" / "bin" / "hadolint")
    if not Path(hadolint).exists():
        pytest.skip("hadolint not installed")
    done = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
