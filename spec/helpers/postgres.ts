import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import pg from 'pg';
import { dialectOf } from '../../lib/store/dialect.ts';

/**
 * The PostgreSQL side of the spec harness. PARLEY_TEST_DB=postgres runs every spec on PostgreSQL
 * (PARLEY_TEST_PG_URL, default the CI server); each server gets its own schema, so parallel runs
 * and specs on one database never see each other's rows.
 */
export const onPostgres = process.env.PARLEY_TEST_DB === 'postgres';

export const PG_BASE_URL = process.env.PARLEY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export const postgresUrl = (schema: string): string => {
  const url = new URL(PG_BASE_URL);
  url.searchParams.set('schema', schema);
  return url.toString();
};

/** A schema name derived from a server's temporary folder: a restart on the same folder finds it again. */
export const schemaFor = (folder: string): string =>
  `parley_spec_${createHash('sha256').update(folder).digest('hex').slice(0, 20)}`;

/** Runs one statement on its own short-lived connection (never the server's pool). */
export async function pgQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(
  sql: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: PG_BASE_URL });
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/**
 * What makes several servers nodes of one cluster: a fresh schema (`prefix` and random hex) on the
 * PostgreSQL under test, and one session secret, so that every node seals and opens the same tokens.
 * The caller drops the schema (dropSchema) once its nodes are closed.
 */
export function clusterEnv(prefix: string): {
  schema: string;
  env: { DATABASE_URL: string; SESSION_SECRET: string };
} {
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  return {
    schema,
    env: { DATABASE_URL: postgresUrl(schema), SESSION_SECRET: randomBytes(24).toString('base64url') },
  };
}

export async function dropSchema(schema: string): Promise<void> {
  await pgQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

/** Whether a PostgreSQL server answers at PG_BASE_URL within a second. */
export async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_BASE_URL, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Waits until at least `count` transactions wait for an advisory lock (Parley's per-conversation
 * and per-user locks), or `stop()` says the awaited requests finished without waiting.
 */
export async function untilWaitingForLocks(db: Knex, count = 1, stop = () => false): Promise<void> {
  for (;;) {
    const [waiting] = await db('pg_locks').count('* as n').where({ locktype: 'advisory', granted: false });
    if (Number(waiting!.n) >= count || stop()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * Starts `request` while conversation `id`'s lock is held, in a transaction on `db`, as a concurrent
 * request would hold it; once the request waits for the lock, runs `meanwhile` in that transaction,
 * then lets go. Returns the request's answer.
 */
export async function requestWhileConversationLocked<R>(
  db: Knex,
  id: string,
  request: () => Promise<R>,
  meanwhile: (trx: Knex.Transaction) => Promise<void>,
): Promise<R> {
  let answer: Promise<R> | undefined;
  await db.transaction(async (trx) => {
    await dialectOf(trx).lockConversations(trx, [Number(id)]);
    answer = request();
    await untilWaitingForLocks(db);
    await meanwhile(trx);
  });
  return answer!;
}

/** A describe for PostgreSQL runs; on SQLite runs it shows one skipped spec that says why. */
export function describeOnPostgres(title: string, body: (this: Mocha.Suite) => void): void {
  if (onPostgres) describe(title, body);
  else {
    describe(title, () => {
      it.skip(
        'runs only on PostgreSQL (PARLEY_TEST_DB=postgres; npm test does so when 127.0.0.1:5432 answers)',
      );
    });
  }
}

/**
 * A describe for what no Parley database stands behind (a document, the bench harness, a process
 * started on its own default): it runs in the SQLite pass only, and the PostgreSQL pass shows one
 * skipped spec that says why, so CI does not pay for it twice.
 */
export function describeOncePerRun(title: string, body: (this: Mocha.Suite) => void): void {
  if (!onPostgres) describe(title, body);
  else {
    describe(title, () => {
      it.skip('runs once, in the SQLite pass: it does not use the database under test');
    });
  }
}
