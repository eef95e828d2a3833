#!/usr/bin/env bash
# Set up Sleuth in a virtual environment, ingest the bundled sample corpus and run the main job on it.
# Offline by default: no API key, no network beyond PyPI for the install.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
export SLEUTH_DATA_DIR=${SLEUTH_DATA_DIR:-$PWD/sleuth-data}
.venv/bin/sleuth ingest --sample
.venv/bin/sleuth search "${1:-How does reciprocal rank fusion combine BM25 and dense retrieval?}"
