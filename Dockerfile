# syntax=docker/dockerfile:1
# CPU image (default):  docker build -t tagger .
# CUDA image:           docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 -t tagger:cuda .
# Both serve the baked-in default models on 0.0.0.0:8000 as a non-root user.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: the wheel, with the default models inside -------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY tagger/ tagger/
COPY api/ api/
COPY models/ models/
RUN pip wheel --no-deps --wheel-dir /wheels .

# ---- shared runtime base --------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/tagger PATH=/opt/tagger/bin:$PATH
RUN python -m venv /opt/tagger \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin tagger
COPY scripts/install_wheel.sh /tmp/install_wheel.sh

# ---- the image: CPU by default; CUDA with --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128
# (PyTorch's CUDA wheels bring their own CUDA libraries) ----------------------------------
FROM runtime AS app
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    TORCH_INDEX=${TORCH_INDEX} sh /tmp/install_wheel.sh /opt/tagger/bin/python /wheels/tagger-0.1.0-py3-none-any.whl
USER 10001:10001
WORKDIR /home/tagger
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=2)"]
CMD ["tagger", "serve", "--host", "0.0.0.0", "--port", "8000"]
