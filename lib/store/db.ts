import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import knex, { type Knex } from 'knex';
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
      connection: target.connectionString,
      searchPath: target.schema ? [target.schema] : undefined,
      // 10 connections per node keeps a 4-node deployment well under PostgreSQL's default 100.
      pool: { min: 0, max: 10 },
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
        done(null);
      },
    },
    migrations: { migrationSource },
  };
}

export function openDatabase(target: DatabaseTarget): Db {
  if (target.client === 'sqlite' && target.filename !== ':memory:') {
    mkdirSync(dirname(target.filename), { recursive: true });
  }
  return knex(knexConfig(target));
}

/** Brings the schema up to date; safe to call from several nodes at once (knex holds a lock). */
export async function migrate(db: Db): Promise<void> {
  await db.migrate.latest();
}

export const isPostgres = (db: Executor): boolean => db.client.config.client === 'pg';
