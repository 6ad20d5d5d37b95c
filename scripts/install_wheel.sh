#!/bin/sh
# Install a built tagger wheel with the service extra into the Python given.
# The Docker image and tests/integration/test_wheel.py both run this exact script.
#   scripts/install_wheel.sh PYTHON WHEEL
# TORCH_INDEX, when set, is the index torch comes from (the image uses PyTorch's CPU-only
# or CUDA index); torch is pinned and installed first so no other requirement pulls a
# different build.
set -eu
python=$1
wheel=$2
if [ -n "${TORCH_INDEX:-}" ]; then
  "$python" -m pip install --index-url "$TORCH_INDEX" torch==2.13.0
else
  "$python" -m pip install torch==2.13.0
fi
"$python" -m pip install "${wheel}[serve]"
