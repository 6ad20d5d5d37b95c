"""What a benchmark report records about where it ran: the CPU and the checkout's commit
(figures from different CPUs or commits are not comparable)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def cpu_name() -> str:
    """The CPU's model name as Linux reports it, else "unknown"."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def commit(checkout: Path) -> str:
    """The short commit of a checkout, else "unknown"."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"
