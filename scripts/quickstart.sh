#!/usr/bin/env bash
# Set up Sleuth in a virtual environment, ingest the bundled sample corpus and write a cited research
# report on it (printed, and saved to <data dir>/reports/quickstart.md). The data dir is the one every
# later `sleuth` command uses: $SLEUTH_DATA_DIR if set, else data_dir in sleuth.toml, else
# ~/.local/share/sleuth, so `.venv/bin/sleuth search ...` right after this finds the corpus.
# Offline by default: no API key, no network beyond PyPI for the install.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh "."
.venv/bin/sleuth ingest --sample
QUESTION=${1:-How does reciprocal rank fusion combine BM25 and dense retrieval, and when does a cross-encoder reranker help?}
DATA_DIR=$(.venv/bin/python -c "from sleuth.settings import load_settings; print(load_settings().data_dir)")
mkdir -p "$DATA_DIR/reports"
.venv/bin/sleuth research "$QUESTION" --out "$DATA_DIR/reports/quickstart.md"
