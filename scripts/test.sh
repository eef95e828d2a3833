#!/usr/bin/env bash
# Set up a virtual environment with Sleuth and its test tools, then run the whole test suite
# (slow suites included). Works on a fresh clone with only PyPI reachable.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh ".[dev]"
. scripts/system-packages.sh
.venv/bin/ruff check .
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
