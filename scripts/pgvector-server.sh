#!/usr/bin/env bash
# Runs shared/scripts/postgres-pgvector.sh (a throwaway PostgreSQL 15 server with pgvector on
# loopback) with the given arguments: `start` prints `export DATABASE_URL=...`, `stop` stops it.
# shared/ sits beside the clone in CI; PGVECTOR_SCRIPT overrides where to find the script.
set -euo pipefail
cd "$(dirname "$0")/.."
script=${PGVECTOR_SCRIPT:-../shared/scripts/postgres-pgvector.sh}
[ -f "$script" ] || script=/work/shared/scripts/postgres-pgvector.sh
if [ ! -f "$script" ]; then
  echo "pgvector-server: no postgres-pgvector.sh beside the clone (../shared/scripts/) or in /work/shared/scripts/;" \
    "set PGVECTOR_SCRIPT, or set TEST_DATABASE_URL to your own PostgreSQL with pgvector" >&2
  exit 1
fi
exec bash "$script" "$@"
