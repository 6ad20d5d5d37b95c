"""``tagger serve``: run the app under uvicorn, in one process or several."""

from __future__ import annotations

import json
import os
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError
from pydantic_settings import SettingsError

from api.app import create_app
from api.settings import Settings
from tagger.device import usable_cores
from tagger.errors import TaggerError


def create_app_from_env() -> FastAPI:
    """App factory for uvicorn's worker processes, which read ``TAGGER_*`` themselves."""
    return create_app(Settings())


def serve(
    host: str,
    port: int,
    models: list[str] | None,
    device: str | None,
    log_level: str = "info",
    workers: int | None = None,
) -> None:
    """Serve in this process, or in ``workers`` processes sharing the port.

    Command-line choices go into ``TAGGER_*`` variables so that worker processes, which
    build their own app, see the same settings. Several workers use several cores where
    one process cannot (Python runs one thread at a time); each worker loads the models
    and merges its own share of the requests.
    """
    if models:
        os.environ["TAGGER_MODELS"] = json.dumps([str(Path(m).resolve()) for m in models])
    if device:
        os.environ["TAGGER_DEVICE"] = device
    if workers:
        os.environ["TAGGER_WORKERS"] = str(workers)
    try:  # validated here, so a bad setting fails before any worker starts
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"TAGGER_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise TaggerError(f"invalid setting: {problems}") from None
    except SettingsError as exc:  # a list setting that is not JSON, e.g. TAGGER_MODELS=notjson
        field = str(exc).split('"')[1] if '"' in str(exc) else "a list setting"
        raise TaggerError(
            f"invalid setting TAGGER_{field.upper()}: expected a JSON list, e.g. '[\"models/ner-en-conll03\"]'"
        ) from None
    missing = [str(m) for m in settings.models if not (Path(m) / "config.json").is_file()]
    if missing:  # else the server would run alive and never ready
        raise TaggerError(f"invalid setting TAGGER_MODELS: {missing[0]}: no such model directory")
    options = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "access_log": False,
        # The connection limits uvicorn lacks (header and body deadlines, header size)
        # live in this protocol; those it has are set here.
        "http": "api.protocol:GuardedHttpToolsProtocol",
        "timeout_keep_alive": settings.keep_alive_s,
        "limit_concurrency": settings.max_connections,
    }
    if settings.workers == 1:
        uvicorn.run(create_app(settings), **options)  # type: ignore[arg-type]
        return
    if not settings.threads:  # split the cores between the workers rather than oversubscribe
        os.environ["TAGGER_THREADS"] = str(max(1, usable_cores() // settings.workers))
    uvicorn.run("api.server:create_app_from_env", factory=True, workers=settings.workers, **options)  # type: ignore[arg-type]
