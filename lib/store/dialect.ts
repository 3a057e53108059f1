import type { Knex } from 'knex';
import type { Db, Runner } from './db.ts';
import type { Position } from './position.ts';

/**
 * What differs between the databases Parley runs on, in one place, as knex keeps its dialects: the
 * log's order and the horizon below which it may be read, locks, consistent reads and migrations.
 * One implementation per database (lib/dialects/), chosen once when the database opens; the store
 * asks `dialectOf(db)` and never which database it is talking to.
 */
export interface Dialect {
  readonly name: 'sqlite' | 'postgres';
  /** SQL for "event `e` comes after a position", with `logAfterArgs` as its bound values. */
  readonly logAfter: string;
  logAfterArgs(p: Position): number[];
  /** SQL for "event `e` comes after position `from` and not after `to`", each given as SQL for its tx and id. */
  logBetween(from: SqlPosition, to: SqlPosition): string;
  /** The log's order as an ORDER BY list, for columns with this prefix (`e.`, or none). */
  logOrder(prefix?: string, direction?: 'ASC' | 'DESC'): string;
  /** `AND …` that keeps a read of the log (alias `e`) to events nothing can still precede; or ''. */
  readonly readable: string;
  /**
   * Whether committed events wait above that horizon for an older transaction to end, as an SQL
   * condition to ask in the statement that reads the log; null where nothing is ever held back.
   */
  readonly heldBack: string | null;
  /** Serialises writers to these conversations until the transaction ends. */
  lockConversations(trx: Runner, conversationIds: readonly number[]): Promise<void>;
  /**
   * Makes a SELECT inside a transaction claim its rows: rows another transaction holds are skipped,
   * so several nodes share a queue without taking the same row (lib/push/). A no-op where one
   * writer runs at a time anyway.
   */
  claimRows<Q extends Knex.QueryBuilder>(query: Q): Q;
  /** What claimRows adds, for a SELECT written as SQL: `FOR UPDATE SKIP LOCKED`, or ''. */
  readonly claimLock: string;
  /**
   * A list bound as one value, for prepared statements: `listOf(db, param, type)` is a subquery
   * whose column `value` holds the list's members (for `IN (…)` or a join), and `list(values)` the
   * value to bind as `param`. However long the list, the statement keeps its one text, so it is
   * prepared once rather than built and prepared again for every length.
   */
  listOf(db: Knex, param: Knex.Value, type: 'integer' | 'text'): Knex.QueryBuilder;
  list(values: readonly (number | string)[]): unknown;
  /** Serialises decisions about one user (presence) until the transaction ends. */
  lockUser(trx: Knex.Transaction, userId: number): Promise<void>;
  /** Runs `read` on one snapshot in which the log's head agrees with the state read beside it. */
  readConsistently<T>(db: Db, read: (trx: Knex.Transaction) => Promise<T>): Promise<T>;
  /**
   * readConsistently for a read of prepared statements only (lib/store/prepared.ts), without knex's
   * per-transaction instance: what a history page and a stream's "now" are read in.
   */
  readPreparedConsistently<T>(db: Db, read: (trx: Runner) => Promise<T>): Promise<T>;
  /**
   * Runs a write of prepared statements only (lib/store/prepared.ts) in a transaction, and settles
   * once it has committed — alone (PostgreSQL), or in one commit with the writes asked for beside
   * it (SQLite: lib/dialects/sqlite-group-commit.ts).
   */
  commitPrepared<T>(db: Db, work: (trx: Runner) => Promise<T>): Promise<T>;
  /** Brings the schema up to date, safe with several nodes starting at once; names what it applied. */
  migrate(db: Db): Promise<string[]>;
  /**
   * Runs one statement on a raw connection of this database, in its native syntax: how prepared
   * statements and prepared transactions reach the driver. `name` keeps it prepared where the
   * driver prepares by name.
   */
  execute(connection: unknown, statement: NativeStatement): Promise<{ rows: unknown[]; changes: number }>;
}

/** A position as two SQL expressions (columns or parameters). */
export interface SqlPosition {
  tx: string;
  id: string;
}

export interface NativeStatement {
  sql: string;
  values: readonly unknown[];
  name?: string;
}

// Keyed by the knex config object, which every transaction of a database shares with it.
const opened = new WeakMap<object, { dialect: Dialect; db: Db }>();

/** Binds a dialect to a database as it opens (lib/dialects/). */
export function useDialect(db: Db, dialect: Dialect): void {
  opened.set(db.client.config, { dialect, db });
}

function openedOf(db: Runner): { dialect: Dialect; db: Db } {
  const found = opened.get(db.client.config);
  if (!found) throw new Error('This database was not opened with openDatabase(): it has no dialect.');
  return found;
}

/** The dialect of the database behind this handle or transaction. */
export const dialectOf = (db: Runner): Dialect => openedOf(db).dialect;

/** The database (its knex instance) behind a handle, a transaction or a prepared transaction. */
export const databaseOf = (db: Runner): Db => openedOf(db).db;
