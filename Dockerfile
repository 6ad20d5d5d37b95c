# syntax=docker/dockerfile:1
# Needs BuildKit (RUN --mount): the default builder since Docker Engine 23; with older
# engines, build with DOCKER_BUILDKIT=1 or `docker buildx build`.
# CPU image (default):  docker build -t tagger .
# CUDA image:           docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 -t tagger:cuda .
# Both serve the baked-in default models on 0.0.0.0:8000 as a non-root user.
#
# Layers, from the least to the most often changed: torch; the service's other
# third-party packages (read from pyproject.toml); the project's wheel with the models,
# installed without dependencies. A change to the code, the README or the models
# rebuilds and ships only the last one.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- requirements: the service's third-party packages, from pyproject.toml -------------
FROM ${PYTHON_IMAGE} AS requirements
WORKDIR /src
COPY pyproject.toml scripts/service_requirements.py ./
RUN python service_requirements.py pyproject.toml > /requirements.txt

# ---- build: the wheel, with the default models inside -------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m pip install --upgrade "pip>=24.0"
COPY pyproject.toml README.md ./
COPY tagger/ tagger/
COPY api/ api/
COPY models/ models/
RUN python -m pip wheel --no-deps --wheel-dir /wheels .

# ---- shared runtime base: a venv without pip or setuptools of its own -----------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore PYTHONUNBUFFERED=1
# pip >= 23.1 builds seqeval-era sdists and knows --python (installing into the venv).
RUN python -m pip install --upgrade "pip>=24.0" \
    && python -m venv --without-pip /opt/tagger \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin tagger
COPY scripts/install_wheel.sh /usr/local/lib/tagger/install_wheel.sh

# ---- the image: CPU by default; CUDA with --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128
# (PyTorch's CUDA wheels bring their own CUDA libraries) ----------------------------------
FROM runtime AS app
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN TORCH_INDEX=${TORCH_INDEX} sh /usr/local/lib/tagger/install_wheel.sh /opt/tagger/bin/python torch
COPY --from=requirements /requirements.txt /usr/local/lib/tagger/requirements.txt
RUN sh /usr/local/lib/tagger/install_wheel.sh /opt/tagger/bin/python requirements /usr/local/lib/tagger/requirements.txt
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    sh /usr/local/lib/tagger/install_wheel.sh /opt/tagger/bin/python wheel /wheels/tagger-*.whl
ENV VIRTUAL_ENV=/opt/tagger PATH=/opt/tagger/bin:$PATH
USER 10001:10001
WORKDIR /home/tagger
EXPOSE 8000
# Probed every 5 s, so the container is healthy within 5 s of /ready (the first probe
# waits one interval); each probe is a short Python process, about 20 ms of CPU.
# (--start-interval would probe faster only while starting, but engines before 25.0
# refuse to build a Dockerfile that uses it.)
HEALTHCHECK --interval=5s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=2)"]
CMD ["tagger", "serve", "--host", "0.0.0.0", "--port", "8000"]
