"""Print the service's third-party requirements, read from pyproject.toml: the core
dependencies and the ``serve`` extra, without torch (installed first, from the index the
image is built for), and with ``--runtime onnx`` onnxruntime from the ``onnx`` extra (the
torch-free image). The image installs these in a layer of their own, so a change to the
code or the models rebuilds only the small layer of the wheel.

Usage: python service_requirements.py [--runtime torch|onnx] [pyproject.toml]
"""

from __future__ import annotations

import re
import sys
import tomllib


def requirements(pyproject: dict, runtime: str = "torch") -> list[str]:
    project = pyproject["project"]
    extras = project["optional-dependencies"]
    listed = [*project["dependencies"], *extras["serve"]]
    if runtime == "onnx":
        listed += [r for r in extras["onnx"] if r.strip().lower().startswith("onnxruntime")]
    elif runtime != "torch":
        raise SystemExit(f"unknown runtime {runtime!r}; expected torch or onnx")
    name = re.compile(r"^\s*([A-Za-z0-9._-]+)")
    kept = []
    for requirement in listed:
        match = name.match(requirement)
        if match is None or match.group(1).lower() in ("torch", "tagger"):
            continue
        kept.append(requirement.split("#", 1)[0].strip())
    return kept


if __name__ == "__main__":
    args = sys.argv[1:]
    runtime = "torch"
    if args[:1] == ["--runtime"]:
        runtime, args = args[1], args[2:]
    with open(args[0] if args else "pyproject.toml", "rb") as f:
        print("\n".join(requirements(tomllib.load(f), runtime)))
