import { createHash } from 'node:crypto';
import pg from 'pg';

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
