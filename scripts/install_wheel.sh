#!/bin/sh
# Install the tagger service into the Python given, in steps that change at different
# rates, so the image keeps each in a cached layer of its own:
#   scripts/install_wheel.sh PYTHON torch              torch, pinned (TORCH_INDEX: the index it comes from),
#                                                      less its C++ headers, tests and test binaries (~190 MB),
#                                                      and its declared dependencies but those only
#                                                      compiling, exporting and downloading use (LEFT_OUT)
#   scripts/install_wheel.sh PYTHON requirements FILE  the service's other third-party packages (for the
#                                                      torch-free image, onnxruntime among them and no torch step)
#   scripts/install_wheel.sh PYTHON wheel WHEEL        the project's wheel, without dependencies, then pip check
#   scripts/install_wheel.sh PYTHON all WHEEL [onnx]   the three in order (the wheel test); onnx: without
#                                                      torch, onnxruntime among the requirements
# The Docker image and tests/integration/test_wheel.py both run this script. The target
# Python needs no pip of its own: without one, $PIP_PYTHON's pip (default: python3 on
# the PATH) installs into it.
set -eu
python=$1
step=$2
here=$(dirname "$0")
if "$python" -m pip --version >/dev/null 2>&1; then
  pip() { "$python" -m pip "$@"; }
else
  pip() { "${PIP_PYTHON:-python3}" -m pip --python "$python" "$@"; }
fi
# torch's other declared dependencies serve compiling, exporting and downloading, never
# running a model: sympy (with mpmath) and networkx for torch.compile and symbolic shapes,
# jinja2 for generated kernels, filelock and fsspec for hub downloads, setuptools for C++
# extensions. Left out, they save about 120 MB; the wheel test and the image run the
# service without them. Install them to use those parts of torch.
LEFT_OUT="sympy|networkx|jinja2|filelock|fsspec|setuptools"
case $step in
  torch)
    index=""
    [ -n "${TORCH_INDEX:-}" ] && index="--index-url $TORCH_INDEX"
    # shellcheck disable=SC2086  # $index: no flag, or the flag and its value
    pip install --no-deps $index torch==2.13.0
    # Then what torch declares (a CUDA build: its nvidia-* libraries and triton), less
    # LEFT_OUT and extras; pip evaluates the environment markers.
    wanted=$(mktemp)
    "$python" -c "import importlib.metadata as m; print('\n'.join(m.requires('torch') or []))" \
      | grep -v "extra *==" | grep -Eiv "^($LEFT_OUT)([^a-z0-9_.-]|$)" > "$wanted" || true
    if [ -s "$wanted" ]; then
      # shellcheck disable=SC2086
      pip install $index -r "$wanted"
    fi
    rm -f "$wanted"
    # What only C++ extension builds and torch's own test suite use; never imported.
    torch_dir=$("$python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/torch
    rm -rf "$torch_dir/include" "$torch_dir/test" "$torch_dir/share"
    find "$torch_dir/bin" -mindepth 1 ! -name torch_shm_manager -exec rm -rf {} +
    ;;
  requirements)
    pip install -r "$3" ;;
  wheel)
    pip install --no-deps "$3"
    # pip check, less the dependencies of torch left out on purpose (LEFT_OUT), and less
    # torch itself in a torch-free install (the onnx runtime image: no torch step ran)
    no_torch=""
    "$python" -c "import torch" >/dev/null 2>&1 || no_torch="tagger [^ ]+ requires torch, which is not installed\."
    status=0
    checked=$(pip check 2>&1) || status=$?
    broken=$(printf '%s\n' "$checked" \
      | grep -Eiv "^(|No broken requirements found\.|torch [^ ]+ (requires|has requirement) ($LEFT_OUT)[,<>=!~ ].*|$no_torch)$" || true)
    if [ -n "$broken" ] || { [ "$status" -ne 0 ] && [ -z "$checked" ]; }; then
      echo "${broken:-pip check failed (exit status $status)}" >&2
      exit 1
    fi ;;
  all)
    runtime=${4:-torch}
    list=$(mktemp)
    python3 "$here/service_requirements.py" --runtime "$runtime" "$here/../pyproject.toml" > "$list"
    [ "$runtime" = torch ] && sh "$0" "$python" torch
    sh "$0" "$python" requirements "$list"
    sh "$0" "$python" wheel "$3"
    rm -f "$list" ;;
  *)
    echo "install_wheel.sh: unknown step $step (torch, requirements, wheel, all)" >&2
    exit 2 ;;
esac
