#!/usr/bin/env bash
# Installs the trainer's CPU-only environment (what CI and the tests use) into a virtualenv:
#
#   trainer/scripts/install-cpu.sh [VENV]      # default: trainer/.venv
#
# Exactly the packages in requirements-cpu.lock, checked against its hashes: uv is bootstrapped with
# pip from requirements-uv.lock, then `uv pip sync` installs the lock (and removes anything else from
# the venv). The lock leaves out the packages torch needs only on a GPU (see scripts/lock.py).
# Measured here from an empty venv and an empty cache: about 80 s and 4.4 GB (uv; pip took 6 min), plus
# 2 to 2.5 min of bytecode compilation; a second run on an up-to-date venv takes seconds.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-$here/.venv}
python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "the trainer needs CPython 3.11, found " + sys.version.split()[0])'
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
# A synced venv has no pip (it is not in the lock), but has uv, which the sync below keeps up to date.
[ -x "$venv/bin/uv" ] ||
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --require-hashes -r "$here/requirements-uv.lock"
# Bytecode now, once: some environments set PYTHONDONTWRITEBYTECODE, and then every process would
# compile torch and transformers from source again (about 13 s of CPU per worker process here).
"$venv/bin/uv" pip sync -q --python "$venv/bin/python" --require-hashes --compile-bytecode "$here/requirements-cpu.lock"
