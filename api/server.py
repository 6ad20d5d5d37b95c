"""``tagger serve``: run the app under uvicorn."""

from __future__ import annotations

from pathlib import Path

import uvicorn

from api.app import create_app
from api.settings import Settings


def serve(host: str, port: int, models: list[str] | None, device: str | None, log_level: str = "info") -> None:
    overrides: dict[str, object] = {}
    if models:
        overrides["models"] = [Path(m) for m in models]
    if device:
        overrides["device"] = device
    settings = Settings(**overrides)  # type: ignore[arg-type]
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level, access_log=False)
