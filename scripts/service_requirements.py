"""Print the service's third-party requirements, read from pyproject.toml: the core
dependencies and the ``serve`` extra, without torch (installed first, from the index the
image is built for). The image installs these in a layer of their own, so a change to
the code or the models rebuilds only the small layer of the wheel.

Usage: python service_requirements.py [pyproject.toml]
"""

from __future__ import annotations

import re
import sys
import tomllib


def requirements(pyproject: dict) -> list[str]:
    project = pyproject["project"]
    listed = [*project["dependencies"], *project["optional-dependencies"]["serve"]]
    name = re.compile(r"^\s*([A-Za-z0-9._-]+)")
    kept = []
    for requirement in listed:
        match = name.match(requirement)
        if match is None or match.group(1).lower() in ("torch", "tagger"):
            continue
        kept.append(requirement.split("#", 1)[0].strip())
    return kept


if __name__ == "__main__":
    with open(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml", "rb") as f:
        print("\n".join(requirements(tomllib.load(f))))
