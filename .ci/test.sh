#!/usr/bin/env bash
# npm test: the whole suite on SQLite, then again on PostgreSQL when one answers (CI: 127.0.0.1:5432).
# Both runs always happen and print their mocha summary; the exit code is non-zero if either failed.
set -uo pipefail
cd "$(dirname "$0")/.."

export PARLEY_TEST_PG_URL="${PARLEY_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"

echo "== spec run on SQLite"
PARLEY_TEST_DB=sqlite npx mocha "$@"
sqlite=$?

if node --input-type=module -e "
  import pg from 'pg';
  const c = new pg.Client({ connectionString: process.env.PARLEY_TEST_PG_URL, connectionTimeoutMillis: 2000 });
  try { await c.connect(); await c.query('SELECT 1'); await c.end(); } catch { process.exit(1); }
" 2>/dev/null; then
  echo "== spec run on PostgreSQL ($PARLEY_TEST_PG_URL, one schema per server)"
  PARLEY_TEST_DB=postgres npx mocha "$@"
  postgres=$?
else
  echo "skipped the PostgreSQL run: nothing answers at $PARLEY_TEST_PG_URL (set PARLEY_TEST_PG_URL to use another)"
  postgres=0
fi

if [ "$sqlite" -ne 0 ] || [ "$postgres" -ne 0 ]; then
  echo "spec runs failed: SQLite exit $sqlite, PostgreSQL exit $postgres"
  exit 1
fi
