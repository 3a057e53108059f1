import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import knex, { type Knex } from 'knex';
import pg from 'pg';
import type { DatabaseTarget } from '../config.ts';
import { migrationSource } from './migrations.ts';

export type Db = Knex;
/** The database or an open transaction: every store function takes one of these first. */
export type Executor = Knex | Knex.Transaction;

/** knex settings for a target; shared by the server and by knexfile.ts. */
export function knexConfig(target: DatabaseTarget): Knex.Config {
  if (target.client === 'postgres') {
    return {
      client: 'pg',
      connection: { connectionString: target.connectionString, types: PG_TYPES },
      searchPath: target.schema ? [target.schema] : undefined,
      pool: {
        // 10 connections per node keeps four nodes (plus one LISTEN connection each) well under
        // PostgreSQL's default max_connections of 100. min 0 lets idle nodes give connections back.
        min: 0,
        max: 10,
        idleTimeoutMillis: 30_000,
      },
      // A request waits at most this long for a free connection before failing with a 500,
      // instead of queueing without bound when the database is saturated.
      acquireConnectionTimeout: 10_000,
      migrations: { migrationSource },
    };
  }
  return {
    client: 'better-sqlite3',
    connection: { filename: target.filename },
    useNullAsDefault: true,
    pool: {
      // better-sqlite3 is synchronous: one connection serialises writes the way SQLite wants them.
      min: 1,
      max: 1,
      afterCreate(conn: import('better-sqlite3').Database, done: (err: Error | null) => void) {
        // WAL lets readers work while a write commits; synchronous=NORMAL in WAL mode keeps every
        // committed transaction across a process crash (kill -9) — only an OS crash or power loss
        // can take back the last commits.
        conn.pragma('journal_mode = WAL');
        conn.pragma('synchronous = NORMAL');
        conn.pragma('foreign_keys = ON');
        conn.pragma('busy_timeout = 5000');
        reusePreparedStatements(conn);
        done(null);
      },
    },
    migrations: { migrationSource },
  };
}

// Distinct SQL texts kept prepared: every statement Parley issues is a handful of shapes (IN lists
// vary by length), so this bound is only reached by something unusual.
const PREPARED_LIMIT = 500;

/**
 * knex prepares every query anew, and on better-sqlite3 preparing costs as much as running a
 * small statement. The same SQL text always compiles to the same statement, and knex runs each
 * one to completion synchronously (all/run, never iterate), so one prepared statement per text
 * can be reused; SQLite re-prepares it by itself after a schema change.
 */
function reusePreparedStatements(conn: import('better-sqlite3').Database): void {
  const prepare = conn.prepare.bind(conn);
  const prepared = new Map<string, import('better-sqlite3').Statement>();
  conn.prepare = ((sql: string) => {
    let statement = prepared.get(sql);
    if (!statement) {
      statement = prepare(sql);
      if (prepared.size >= PREPARED_LIMIT) prepared.delete(prepared.keys().next().value as string);
      prepared.set(sql, statement);
    }
    return statement;
  }) as typeof conn.prepare;
}

export function openDatabase(target: DatabaseTarget): Db {
  if (target.client === 'sqlite' && target.filename !== ':memory:') {
    mkdirSync(dirname(target.filename), { recursive: true });
  }
  return knex(knexConfig(target));
}

/**
 * bigint (COUNT(*), bigserial ids, transaction ids) arrives from pg as a string to stay exact past
 * 2^53; every such value here is far below that, so it is read as a number, the way SQLite returns
 * it. One place for the difference instead of Number() in every store function.
 */
const PG_TYPES = {
  getTypeParser: (oid: number, format: string) =>
    oid === pg.types.builtins.INT8 && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format as 'text'),
};

/**
 * Brings the schema up to date; safe to call from several nodes at once. On PostgreSQL the
 * configured schema is created first, and an advisory lock serialises whole runs: knex's own
 * migration lock only works once its tables exist, and two nodes creating them at the same moment
 * on an empty schema collide.
 */
export async function migrate(db: Db): Promise<void> {
  if (!isPostgres(db)) {
    await db.migrate.latest();
    return;
  }
  const schema = (db.client.config.searchPath as string[] | undefined)?.[0];
  if (schema) await createSchema(db, schema);
  await db.transaction(async (trx) => {
    await trx.raw(`SELECT pg_advisory_xact_lock(hashtext('parley.migrate:' || current_schema()))`);
    await db.migrate.latest();
  });
}

async function createSchema(db: Db, schema: string): Promise<void> {
  try {
    await db.raw('CREATE SCHEMA IF NOT EXISTS ??', [schema]);
  } catch (err) {
    // Two nodes creating it at once: IF NOT EXISTS is not atomic, the loser sees a duplicate.
    const code = (err as { code?: string }).code;
    if (code !== '23505' && code !== '42P06') throw err;
  }
}

export const isPostgres = (db: Executor): boolean => db.client.config.client === 'pg';

/** The rows of a `db.raw` result: better-sqlite3 returns them as they are, pg inside a result object. */
export const rowsOf = <T>(result: T[] | { rows: T[] }): T[] => (Array.isArray(result) ? result : result.rows);
