# Sourced by quickstart.sh and test.sh: create .venv if missing and install Sleuth into it.
# Usage: . scripts/venv.sh [pip install target, default "."]
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e "${1:-.}"
