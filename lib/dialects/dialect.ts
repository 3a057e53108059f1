import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { DatabaseTarget } from '../config.ts';
import type { Bus } from '../events/bus.ts';
import type { Db } from '../store/db.ts';
import type { Dialect } from '../store/dialect.ts';

/** A database Parley runs on: the store's dialect, plus how to connect to it and which bus wakes its nodes. */
export interface DatabaseDialect extends Dialect {
  knexConfig(target: DatabaseTarget): Knex.Config;
  /** One node: the in-process bus. Several nodes share PostgreSQL, and its LISTEN/NOTIFY wakes them all. */
  connectBus(db: Db, target: DatabaseTarget, log: Logger): Promise<Bus>;
  /** What a serving node runs beside the requests for this database (SQLite: its WAL checkpoints). */
  startMaintenance(target: DatabaseTarget, log: Logger): { stop(): Promise<void> };
}
