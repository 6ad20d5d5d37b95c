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
    runs = [a for i, a in instructions if i == "RUN"]
    # The image installs with the exact script the wheel test runs, one layer per step:
    # torch (RUNTIME=torch only), then the other requirements, then the wheel (no
    # version in its name).
    steps = [r.split("install_wheel.sh /opt/tagger/bin/python ", 1)[1].split()[0].rstrip(";") for r in runs]
    assert steps == ["torch", "requirements", "wheel"]
    assert runs[0].startswith('if [ "${RUNTIME}" = torch ]; then')
    assert runs[-1].endswith("wheel /wheels/tagger-*.whl")
    copied = [a for i, a in instructions if i == "COPY"]
    assert copied == ["--from=requirements /requirements.txt /usr/local/lib/tagger/requirements.txt"]


def test_the_code_is_the_last_layer() -> None:
    """Code, README and models reach the image only through the wheel's layer."""
    build_copies = [a for i, a in stages()["build"] if i == "COPY"]
    assert any("models/" in c for c in build_copies) and any("tagger/" in c for c in build_copies)
    for name in ("requirements", "runtime", "app"):
        for instruction, args in stages()[name]:
            if instruction == "COPY":
                sources = [a for a in args.split()[:-1] if not a.startswith("--")]
                assert not {"tagger/", "api/", "models/", "README.md"} & set(sources), (name, args)


def test_the_service_requirements_leave_out_torch_and_scoring() -> None:
    import tomllib

    from scripts.service_requirements import requirements

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for runtime in ("torch", "onnx"):
        listed = requirements(pyproject, runtime)
        names = {re.match(r"[A-Za-z0-9._-]+", r).group(0).lower() for r in listed}  # type: ignore[union-attr]
        assert {"fastapi", "uvicorn", "numpy", "safetensors", "threadpoolctl"} <= names
        assert not names & {"torch", "seqeval", "scikit-learn", "scipy", "matplotlib", "onnx"}
        assert ("onnxruntime" in names) == (runtime == "onnx")


def test_healthcheck_probes_often_while_starting() -> None:
    (check,) = [a for i, a in stages()["app"] if i == "HEALTHCHECK"]
    # The first probe comes one interval after start: healthy within 5 s of ready. No
    # --start-interval: engines before Docker 25 reject the whole Dockerfile for it.
    assert "--interval=5s" in check and "--start-interval" not in check and "/ready" in check


def test_buildkit_is_stated() -> None:
    assert "BuildKit" in DOCKERFILE.read_text()
    assert "BuildKit" in (ROOT / "README.md").read_text()


def test_torch_free_cpu_image_is_the_default_and_torch_a_build_argument() -> None:
    names = list(stages())
    assert names[-1] == "app"
    (default,) = [a for i, a in stages()[next(iter(stages()))] if i == "ARG" and a.startswith("RUNTIME=")]
    assert default == "RUNTIME=onnx"
    args = dict(a.partition("=")[::2] for i, a in stages()["app"] if i == "ARG")
    assert args["RUNTIME"] == ""  # the global default, redeclared for the stage
    assert args["TORCH_INDEX"] == "https://download.pytorch.org/whl/cpu"
    text = DOCKERFILE.read_text()
    assert "--build-arg RUNTIME=torch --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128" in text


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "runs", "tests"} <= set(ignored)


def test_hadolint_is_clean() -> None:
    hadolint = shutil.which("hadolint") or str(Path(__file__).parents[1] / ".venv" / "bin" / "hadolint")
    if not Path(hadolint).exists():
        pytest.skip("hadolint not installed")
    done = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
