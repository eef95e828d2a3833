#!/usr/bin/env bash
# Set up Sleuth in a virtual environment, ingest the bundled sample corpus and write a cited research
# report on it (printed, and saved to $SLEUTH_DATA_DIR/reports/quickstart.md, default ./sleuth-data).
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
QUESTION=${1:-How does reciprocal rank fusion combine BM25 and dense retrieval, and when does a cross-encoder reranker help?}
.venv/bin/sleuth research "$QUESTION" --out "$SLEUTH_DATA_DIR/reports/quickstart.md"
