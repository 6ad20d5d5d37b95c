"""Peak memory of ``tagger tag`` on text with and without newlines (issue 10, item 7).

Builds a 5.4 MB text from CoNLL-2003 dev (detokenized) as one line, and the same text
with a blank line after every sentence, and tags each as ``--input-format text`` with
the NER model, sampling PSS over the process tree (forked workers share the model's
pages; PSS counts them once). Run it with ``PYTHONPATH`` set to another checkout to
measure that checkout.

Usage: .venv/bin/python benchmarks/long_line_memory.py [--label after]
Writes benchmarks/results/long_line_memory_<label>.json.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.corpus_text import DATA, conll_dev_text  # noqa: E402
from benchmarks.processes import process_tree  # noqa: E402

SIZE = 5_400_000


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run(path: Path, models: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "tagger", "tag", str(path), "--input-format", "text", "-o", "/dev/null"]
    started = time.perf_counter()
    proc = subprocess.Popen([*cmd, "--model", str(models / "ner-en-conll03")], stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, sum(_pss_kb(p) for p in process_tree(proc.pid)))
        time.sleep(0.1)
    summary = (proc.stderr.read() if proc.stderr else "").strip().splitlines()
    return {
        "peak_pss_mb": round(peak / 1024),
        "seconds": round(time.perf_counter() - started, 1),
        "exit": proc.returncode,
        "summary": summary[-1] if summary else "",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="after")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    text = " ".join(s.text for s in conll_dev_text(args.data))
    while len(text) < SIZE:
        text += " " + text
    text = text[:SIZE]
    import tagger

    models = Path(str(tagger.__file__)).resolve().parent.parent / "models"
    results: dict[str, Any] = {"label": args.label, "bytes": SIZE}
    with tempfile.TemporaryDirectory() as tmp:
        one_line = Path(tmp) / "one_line.txt"
        one_line.write_text(text)
        paragraphs = Path(tmp) / "paragraphs.txt"
        paragraphs.write_text(re.sub(r"\. ", ".\n\n", text))
        for name, path in (("no newline", one_line), ("a blank line after each sentence", paragraphs)):
            results[name] = run(path, models)
            print(name, results[name], flush=True)
    out = ROOT / "benchmarks" / "results" / f"long_line_memory_{args.label}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
