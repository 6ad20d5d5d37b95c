"""Service settings, read from ``TAGGER_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tagger.batching import DEFAULT_BATCH_TOKENS
from tagger.io.validate import MAX_DOCUMENT_CHARS
from tagger.labeler import BACKEND_HELP, CHAR_CACHE_WORDS, Backend
from tagger.resources import default_model_paths

# Bounded and finite: the merging thread computes deadlines from these.
MergeMilliseconds = Annotated[float, Field(ge=0, le=10_000, allow_inf_nan=False)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAGGER_", protected_namespaces=())

    models: list[Path] = Field(
        default_factory=default_model_paths, min_length=1, description="model directories to load"
    )
    device: str = Field(
        "auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$", description="auto (cuda when available), cpu, cuda, cuda:N"
    )
    backend: Backend = Field(
        "auto",
        description=BACKEND_HELP,
    )
    demo: bool = Field(True, description="serve the demo page at / (false: the API only)")
    threads: int = Field(
        0,
        ge=0,
        le=256,
        description="threads: torch's or ONNX Runtime's (an int8 export without range anchors runs sentences "
        "side by side); 0 = the default",
    )
    workers: int = Field(1, ge=1, description="server processes, each with its own models and request merger")
    parallel_models: bool = Field(True, description="run the models of a forward pass in parallel threads")
    merge_requests: bool = Field(True, description="merge concurrent requests into one call of the tagger")
    max_merged_tokens: int = Field(DEFAULT_BATCH_TOKENS, ge=1, description="tokens of requests merged into one call")
    max_batch_tokens: int = Field(
        DEFAULT_BATCH_TOKENS, ge=1, description="padded tokens (sentences x longest) of one forward pass"
    )
    max_wait_ms: MergeMilliseconds = Field(
        20.0, description="with steady concurrent clients, hold a pass at most this long for the rest (0: never)"
    )
    merge_gap_ms: MergeMilliseconds = Field(
        6.0, description="while holding, start once no request has arrived for this long"
    )
    char_cache_words: int = Field(
        CHAR_CACHE_WORDS,
        ge=0,
        le=5_000_000,  # 3 GB of 158-wide rows per model
        description="words whose input rows each model keeps (onnx backends: word, casing and character "
        "vectors, emptied when full; torch: character vectors, least recently used out) (0: off)",
    )
    max_queue: int = Field(
        256,
        ge=1,
        description="POST /tag requests in the service at once (read, queued or tagged); beyond it 503 at once",
    )
    max_body_bytes: int = Field(1_000_000, ge=1, description="larger bodies get 413")
    max_texts: int = Field(128, ge=1, description="documents per request")
    max_chars: int = Field(MAX_DOCUMENT_CHARS, ge=1, description="characters per document")
    max_tokens: int = Field(20_000, ge=1, description="tokens per request, after tokenization")
    warmup: bool = Field(True, description="run one pass before reporting ready")
    header_timeout_s: float = Field(
        10.0, gt=0, description="a request's headers must arrive within this, from connect or the last response"
    )
    body_timeout_s: float = Field(30.0, gt=0, description="a request's body must arrive within this after its headers")
    max_header_bytes: int = Field(16_384, ge=1024, description="larger request headers get 431")
    keep_alive_s: float = Field(5.0, gt=0, description="idle keep-alive connections are closed after this")
    max_connections: int = Field(
        1024, ge=1, description="open connections (and requests) beyond this get 503 at once, from uvicorn"
    )
