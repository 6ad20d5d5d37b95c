# make test   : create/reuse .venv, install the project with dev tools, lint, type-check, test
# make serve  : install if needed and serve the default models on 127.0.0.1:8000
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install test lint typecheck pytest serve train-models clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned: this takes the CPU wheel instead of a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@if [ -f Dockerfile ]; then $(VENV)/bin/hadolint Dockerfile; fi

typecheck: $(STAMP)
	$(VENV)/bin/mypy tagger api scripts benchmarks

pytest: $(STAMP)
	$(VENV)/bin/pytest -q -rs --durations=10  # -rs: every skipped test says why (no GPU, no Chromium)

test: lint typecheck pytest

serve: $(STAMP)
	$(VENV)/bin/tagger serve --host $(HOST) --port $(PORT)

train-models: $(STAMP)
	scripts/train_default_models.sh all

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache
