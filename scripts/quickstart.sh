#!/usr/bin/env bash
# Set up Sleuth in a virtual environment, ingest the bundled sample corpus and write a cited research
# report on it (printed, and saved to $SLEUTH_DATA_DIR/reports/quickstart.md, default ./sleuth-data).
# Offline by default: no API key, no network beyond PyPI for the install.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh "."
export SLEUTH_DATA_DIR=${SLEUTH_DATA_DIR:-$PWD/sleuth-data}
.venv/bin/sleuth ingest --sample
QUESTION=${1:-How does reciprocal rank fusion combine BM25 and dense retrieval, and when does a cross-encoder reranker help?}
.venv/bin/sleuth research "$QUESTION" --out "$SLEUTH_DATA_DIR/reports/quickstart.md"
