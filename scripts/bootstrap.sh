#!/usr/bin/env bash
# Create .venv and install the pinned requirements. A second run with the same
# requirements.txt does nothing (seconds): the stamp holds the file's hash.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ -f "$VENV/.stamp" ] && [ "$(cat "$VENV/.stamp")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  if ! "$PY" -m venv "$VENV" 2>/dev/null; then
    # Debian/Ubuntu ship venv/ensurepip separately.
    rm -rf "$VENV"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "bootstrap: installing python3-venv" >&2
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      "$PY" -m venv "$VENV"
    else
      echo "bootstrap: '$PY -m venv' failed; install your distribution's python3-venv package" >&2
      exit 1
    fi
  fi
fi
"$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
"$VENV/bin/python" -m pip install -q -r requirements.txt 2>&1 | grep -v '^WARNING: Location' || true
"$VENV/bin/python" -c "import torch, numpy, numba, h5py, PyQt6, pyqtgraph, imageio, imageio_ffmpeg" \
  || { echo "bootstrap: the pinned packages did not install" >&2; exit 1; }
echo "$want" > "$VENV/.stamp"
