# syntax=docker/dockerfile:1
# Needs BuildKit (RUN --mount): the default builder since Docker Engine 23; with older
# engines, build with DOCKER_BUILDKIT=1 or `docker buildx build`.
# CPU image (default):  docker build -t tagger .
#   no torch: the models run on ONNX Runtime and NumPy (the onnx backends: int8 on
#   CPUs with VNNI, else float), from the exports shipped in models/
# CPU image with torch: docker build --build-arg RUNTIME=torch -t tagger:torch .
# CUDA image:           docker build --build-arg RUNTIME=torch --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 -t tagger:cuda .
# All serve the baked-in default models on 0.0.0.0:8000 as a non-root user.
#
# Layers, from the least to the most often changed: torch (RUNTIME=torch only); the
# service's other third-party packages (read from pyproject.toml; onnxruntime without
# torch); the project's wheel with the models, installed without dependencies. A change
# to the code, the README or the models rebuilds and ships only the last one.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG RUNTIME=onnx

# ---- requirements: the service's third-party packages, from pyproject.toml -------------
FROM ${PYTHON_IMAGE} AS requirements
ARG RUNTIME
WORKDIR /src
COPY pyproject.toml scripts/service_requirements.py ./
RUN python service_requirements.py --runtime "${RUNTIME}" pyproject.toml > /requirements.txt

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

# ---- the image: CPU without torch by default; RUNTIME=torch for PyTorch from TORCH_INDEX
# (CUDA: https://download.pytorch.org/whl/cu128; its wheels bring their own CUDA libraries)
FROM runtime AS app
ARG RUNTIME
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN if [ "${RUNTIME}" = torch ]; then \
        TORCH_INDEX=${TORCH_INDEX} sh /usr/local/lib/tagger/install_wheel.sh /opt/tagger/bin/python torch; \
    elif [ "${RUNTIME}" != onnx ]; then echo "RUNTIME must be onnx or torch, not ${RUNTIME}" >&2; exit 1; \
    else echo "RUNTIME=onnx: no torch in this image (TORCH_INDEX unused; CUDA needs --build-arg RUNTIME=torch)"; fi
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
