#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment .venv and install napari-apn into it.
#   bash .ci/venv.sh            the core and the apn command
#   bash .ci/venv.sh testing    everything the tests need (napari, PyQt6, pytest, ruff, codecs)
# A fresh environment on purpose: a global Python hides missing dependencies. torch is pinned
# to the CPU build by .ci/constraints.txt (an unpinned torch pulls a multi-GB CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then
  # Debian ships venv/ensurepip separately from python3
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
export PIP_DISABLE_PIP_VERSION_CHECK=1
target="."
[ -n "$extras" ] && target=".[$extras]"
.venv/bin/python -m pip install -q -c .ci/constraints.txt -e "$target"
