#!/usr/bin/env bash
# npm run test:postgres: the test files that use a test database (test/support/database.ts, directly
# or through the Discord and Slack app harnesses), against a real PostgreSQL server with pgvector
# instead of the embedded PGlite. TEST_DATABASE_URL names the server (a role that may CREATE
# DATABASE); unset, the shared throwaway server is started (scripts/pgvector-server.sh). Extra
# arguments go to vitest: `npm run test:postgres -- test/budgets.test.ts` runs one file.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${TEST_DATABASE_URL:-}" ]; then
  server_env=$(bash scripts/pgvector-server.sh start)
  eval "$server_env"
  export TEST_DATABASE_URL=$DATABASE_URL
fi
# The tests choose their databases themselves; a DATABASE_URL left in the environment is not theirs.
unset DATABASE_URL
if [ $# -gt 0 ]; then
  exec npx vitest run "$@"
fi
mapfile -t files < <(grep -lE 'createTestDatabase|createEmptyDatabase|support/(discord|slack)-app' test/*.test.ts)
exec npx vitest run "${files[@]}"
