"""api/settings.py: defaults and the TAGGER_* environment variables."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from api.settings import Settings
from tagger.batching import DEFAULT_BATCH_TOKENS
from tagger.labeler import CHAR_CACHE_WORDS
from tagger.resources import DEFAULT_MODEL_NAMES, default_model_paths


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No TAGGER_* variable of the shell running the tests leaks into a test."""
    for name in list(os.environ):
        if name.upper().startswith("TAGGER_"):
            monkeypatch.delenv(name)


def test_defaults() -> None:
    settings = Settings()
    assert settings.models == default_model_paths()
    assert [path.name for path in settings.models] == list(DEFAULT_MODEL_NAMES)
    assert settings.device == "auto"
    assert settings.threads == 0
    assert settings.workers == 1
    assert settings.parallel_models is True
    assert settings.merge_requests is True
    assert settings.max_batch_tokens == DEFAULT_BATCH_TOKENS
    assert settings.max_merged_tokens == DEFAULT_BATCH_TOKENS
    assert settings.max_wait_ms == 20.0
    assert settings.merge_gap_ms == 6.0
    assert settings.char_cache_words == CHAR_CACHE_WORDS
    assert settings.max_queue == 256
    assert settings.max_body_bytes == 1_000_000
    assert settings.max_texts == 128
    assert settings.max_chars == 100_000
    assert settings.max_tokens == 20_000
    assert settings.warmup is True


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAGGER_DEVICE", "cpu")
    monkeypatch.setenv("TAGGER_THREADS", "3")
    monkeypatch.setenv("TAGGER_WORKERS", "2")
    monkeypatch.setenv("TAGGER_PARALLEL_MODELS", "false")
    monkeypatch.setenv("TAGGER_MERGE_REQUESTS", "0")
    monkeypatch.setenv("TAGGER_MAX_MERGED_TOKENS", "512")
    monkeypatch.setenv("TAGGER_MAX_BATCH_TOKENS", "1024")
    monkeypatch.setenv("TAGGER_MAX_WAIT_MS", "0")
    monkeypatch.setenv("TAGGER_MERGE_GAP_MS", "1.5")
    monkeypatch.setenv("TAGGER_CHAR_CACHE_WORDS", "0")
    monkeypatch.setenv("TAGGER_MAX_QUEUE", "10")
    monkeypatch.setenv("TAGGER_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("TAGGER_MAX_TEXTS", "4")
    monkeypatch.setenv("TAGGER_MAX_CHARS", "50")
    monkeypatch.setenv("TAGGER_MAX_TOKENS", "60")
    monkeypatch.setenv("TAGGER_WARMUP", "no")
    settings = Settings()
    assert settings.device == "cpu"
    assert settings.threads == 3
    assert settings.workers == 2
    assert settings.parallel_models is False
    assert settings.merge_requests is False
    assert settings.max_merged_tokens == 512
    assert settings.max_batch_tokens == 1024
    assert settings.max_wait_ms == 0.0
    assert settings.merge_gap_ms == 1.5
    assert settings.char_cache_words == 0
    assert settings.max_queue == 10
    assert settings.max_body_bytes == 2048
    assert settings.max_texts == 4
    assert settings.max_chars == 50
    assert settings.max_tokens == 60
    assert settings.warmup is False


def test_environment_names_are_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("tagger_max_queue", "7")
    assert Settings().max_queue == 7


def test_models_from_environment_are_json(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TAGGER_MODELS", f'["{tmp_path / "a"}", "relative/b"]')
    assert Settings().models == [tmp_path / "a", Path("relative/b")]


def test_keyword_arguments_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAGGER_MAX_QUEUE", "10")
    assert Settings(max_queue=3).max_queue == 3


def test_unprefixed_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_QUEUE", "10")
    monkeypatch.setenv("TAGGER_NOT_A_SETTING", "1")  # unknown TAGGER_* variables are not an error
    assert Settings().max_queue == 256


@pytest.mark.parametrize(
    ("variable", "value", "field", "message"),
    [
        ("TAGGER_MAX_QUEUE", "0", "max_queue", "Input should be greater than or equal to 1"),
        ("TAGGER_THREADS", "-1", "threads", "Input should be greater than or equal to 0"),
        ("TAGGER_WORKERS", "0", "workers", "Input should be greater than or equal to 1"),
        ("TAGGER_MAX_BATCH_TOKENS", "0", "max_batch_tokens", "Input should be greater than or equal to 1"),
        ("TAGGER_MAX_MERGED_TOKENS", "0", "max_merged_tokens", "Input should be greater than or equal to 1"),
        ("TAGGER_MAX_WAIT_MS", "-0.5", "max_wait_ms", "Input should be greater than or equal to 0"),
        ("TAGGER_CHAR_CACHE_WORDS", "-1", "char_cache_words", "Input should be greater than or equal to 0"),
        (
            "TAGGER_MAX_QUEUE",
            "many",
            "max_queue",
            "Input should be a valid integer, unable to parse string as an integer",
        ),
        ("TAGGER_WARMUP", "perhaps", "warmup", "Input should be a valid boolean, unable to interpret input"),
    ],
)
def test_invalid_environment_is_rejected(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    (error,) = caught.value.errors()
    assert error["loc"] == (field,)
    assert error["msg"] == message


def test_invalid_keyword_is_rejected() -> None:
    with pytest.raises(ValidationError):
        Settings(max_queue=0)
    with pytest.raises(ValidationError):
        Settings(no_such_setting=1)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TAGGER_MAX_WAIT_MS", "1e15"),  # killed the merging thread: every later /tag hung
        ("TAGGER_MERGE_GAP_MS", "inf"),
        ("TAGGER_MAX_WAIT_MS", "nan"),
        ("TAGGER_THREADS", "100000"),
        ("TAGGER_CHAR_CACHE_WORDS", "1000000000000"),  # a 182 TiB table
        ("TAGGER_DEVICE", "gpu"),
        ("TAGGER_MODELS", "[]"),
    ],
)
def test_settings_out_of_range_are_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert [e["loc"] for e in refused.value.errors()] == [(name.removeprefix("TAGGER_").lower(),)]
