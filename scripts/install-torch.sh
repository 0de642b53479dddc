#!/usr/bin/env bash
# Install PyTorch into the given Python environment, preferring a CPU build.
#
# Usage: scripts/install-torch.sh PYTHON
#
# 1. If torch is already importable, do nothing (a GPU build you installed yourself is kept).
# 2. If pip's configured find-links hold a torch wheel (some CI images ship a CPU wheel on
#    disk), install that one: no multi-GB download.
# 3. On Linux without an NVIDIA driver, use PyTorch's CPU wheel index (a few hundred MB instead
#    of several GB of CUDA libraries).
# 4. Otherwise (macOS, Windows, a machine with a GPU) install the default build from PyPI.
# Nothing pins torch: pyproject.toml only asks for torch>=2.1.
set -euo pipefail
PY=${1:?usage: install-torch.sh PYTHON}
if "$PY" -c "import torch" 2>/dev/null; then
    echo "install-torch: torch $("$PY" -c 'import torch; print(torch.__version__)') already installed"
    exit 0
fi
if "$PY" -m pip install --quiet --no-index --no-deps torch 2>/dev/null; then
    ver=$("$PY" -c "import importlib.metadata as m; print(m.version('torch'))")
    echo "install-torch: using the local wheel torch $ver; installing its dependencies"
    "$PY" -m pip install --quiet "torch==$ver"
    exit 0
fi
if [ "$(uname -s)" = "Linux" ] && ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "install-torch: no NVIDIA driver found; installing the CPU build of torch"
    if "$PY" -m pip install --quiet torch --index-url https://download.pytorch.org/whl/cpu \
        --extra-index-url https://pypi.org/simple; then
        exit 0
    fi
    echo "install-torch: the PyTorch CPU index is unreachable; falling back to PyPI's default build"
fi
"$PY" -m pip install --quiet torch
