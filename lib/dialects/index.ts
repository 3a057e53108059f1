import knex, { type Knex } from 'knex';
import type { DatabaseTarget } from '../config.ts';
import type { Db } from '../store/db.ts';
import { useDialect } from '../store/dialect.ts';
import type { DatabaseDialect } from './dialect.ts';
import { postgres } from './postgres.ts';
import { sqlite } from './sqlite.ts';

/** The one place that picks a dialect: by the database the configuration names. */
export const dialectFor = (target: DatabaseTarget): DatabaseDialect =>
  target.client === 'postgres' ? postgres : sqlite;

/** knex settings for a target; shared by the server and by knexfile.ts. */
export const knexConfig = (target: DatabaseTarget): Knex.Config => dialectFor(target).knexConfig(target);

/** Opens the database and binds its dialect; no query runs yet. */
export function openDatabase(target: DatabaseTarget): { db: Db; dialect: DatabaseDialect } {
  const dialect = dialectFor(target);
  const db = knex(dialect.knexConfig(target));
  useDialect(db, dialect);
  return { db, dialect };
}
