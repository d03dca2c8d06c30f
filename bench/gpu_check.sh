#!/bin/sh
# One command on a machine with a real GPU (bench/gpu_check.py says what it runs; --dry-run prints the steps).
set -e
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
exec "$PYTHON" bench/gpu_check.py "$@"
