"""Errors a user can act on. The CLI prints them as one line instead of a traceback."""

from __future__ import annotations

from pathlib import Path


class TaggerError(Exception):
    """Base class for every error caused by user input (files, options, model directories)."""


class CorpusError(TaggerError):
    """A corpus file is malformed; the message is ``file:line: what is wrong``."""

    def __init__(self, path: str | Path, line: int, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.detail = message
        super().__init__(f"{path}:{line}: {message}")

    def __reduce__(self) -> tuple[type[CorpusError], tuple[str, int, str]]:
        # Pickled across worker processes: rebuilt from its parts, not its message.
        return (CorpusError, (self.path, self.line, self.detail))


class ModelDirError(TaggerError):
    """A model directory is missing a file, has an unknown version or inconsistent weights."""
