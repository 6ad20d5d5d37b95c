"""Build the wheel, install it into a fresh virtual environment with the same script the
Docker image uses, and run it from outside the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tagger.device import cpu_has_vnni
from tests.conftest import ROOT
from tests.server_process import running_server

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("runtime", ["torch", "onnx"])  # onnx: the torch-free install of the default image
def test_wheel_installs_and_runs_outside_the_checkout(tmp_path: Path, runtime: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(ROOT)],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = (tmp_path / "dist").glob("tagger-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    python = tmp_path / "venv" / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    install = ["sh", str(ROOT / "scripts" / "install_wheel.sh"), str(python), "all", str(wheel), runtime]
    subprocess.run(install, check=True, env=env)
    # torch's compile/export/download dependencies stay out (about 120 MB of the image),
    # and without the torch step, torch itself.
    absent = ("sympy", "networkx", "jinja2") + (("torch",) if runtime == "onnx" else ())
    left_out = f"import importlib.util as u; print([m for m in {absent!r} if u.find_spec(m)])"
    assert subprocess.run([str(python), "-c", left_out], capture_output=True, text=True).stdout.strip() == "[]"
    tagger = tmp_path / "venv" / "bin" / "tagger"
    work = tmp_path / "elsewhere"
    work.mkdir()

    done = subprocess.run(
        [str(tagger), "tag", "-", "--input-format", "lines", "--quiet"],
        input=b"Angela Merkel visited Paris.\n",
        capture_output=True,
        cwd=work,
        env=env,
        check=True,
    )
    doc = json.loads(done.stdout)
    assert [(e["text"], e["label"], e["model"]) for e in doc["entities"]] == [
        ("Angela Merkel", "PER", "ner-en-conll03"),
        ("Paris", "LOC", "ner-en-conll03"),
    ]
    assert doc["sentences"][0][0]["labels"]["pos-en-ewt"]["label"] == "PROPN"

    with running_server([str(tagger), "serve"], work, env) as http:
        body = http.post("/tag", json={"text": "John lives in Berlin."}).json()
        assert [(e["text"], e["label"]) for e in body["documents"][0]["entities"]] == [
            ("John", "PER"),
            ("Berlin", "LOC"),
        ]
        models = {m["name"]: m["backend"] for m in http.get("/models").json()}
        portable = "onnx-int8" if cpu_has_vnni() else "onnx"  # auto's choice (labeler.AUTO_CPU)
        assert models == dict.fromkeys(("ner-en-conll03", "pos-en-ewt"), portable if runtime == "onnx" else "torch")
        assert "<textarea" in http.get("/").text and http.get("/demo/demo.js").status_code == 200  # package data
