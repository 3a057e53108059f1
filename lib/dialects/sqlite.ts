import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { Knex } from 'knex';
import { LocalBus } from '../events/bus.ts';
import type { Db } from '../store/db.ts';
import type { Dialect } from '../store/dialect.ts';
import { migrationSource } from '../store/migrations.ts';
import type { Position } from '../store/position.ts';
import { onOneConnection } from '../store/prepared.ts';
import type { DatabaseDialect } from './dialect.ts';
import { CHECKPOINT_BACKSTOP_PAGES, startCheckpointer } from './sqlite-checkpointer.ts';
import { GroupCommit } from './sqlite-group-commit.ts';

/**
 * SQLite: one process, one connection, one writer. Ids are committed in order, so every position's
 * `tx` is 0 and the id alone orders the log; nothing needs locking or waiting for.
 */
export const sqlite: DatabaseDialect = {
  name: 'sqlite',
  // One range over the primary key that the planner walks in order, instead of an OR of two index
  // ranges and a sort on every fan-out read.
  logAfter: 'e.id > ?',
  logAfterArgs: (p: Position) => [p.id],
  logBetween: (from, to) => `e.id > ${from.id} AND e.id <= ${to.id}`,
  logOrder: (prefix = '', direction = 'ASC') => `${prefix}id ${direction}`,
  readable: '',
  heldBack: null,
  // The single writer already runs one transaction at a time.
  lockConversations: async () => {},
  lockUser: async () => {},
  claimRows: (query) => query,
  claimLock: '',
  listOf: (db, param) => db.from(db.raw('json_each(?)', [param])).select('value'),
  list: (values) => JSON.stringify(values),
  // Its one connection makes any transaction a consistent read.
  readConsistently: (db, read) => db.transaction(read),
  // Its one connection, held for the read, is a snapshot without a transaction: no write can run on
  // it in between. A knex transaction costs a transaction-bound knex instance: around the head read
  // of every stream opening, ~20 KB of short-lived heap that outlived the young generation while
  // thousands of streams opened (a sampling heap profile of the streams bench).
  readPreparedConsistently: (db, read) => onOneConnection(db, read),
  commitPrepared: (db, work) => groupCommitOf(db).run(work),
  migrate: async (db) => {
    const [, applied] = await db.migrate.latest();
    return applied;
  },

  knexConfig(target) {
    if (target.client !== 'sqlite') throw new Error('not a SQLite target');
    if (target.filename !== ':memory:') mkdirSync(dirname(target.filename), { recursive: true });
    return {
      client: 'better-sqlite3',
      connection: { filename: target.filename },
      useNullAsDefault: true,
      pool: {
        // better-sqlite3 is synchronous: one connection serialises writes the way SQLite wants them.
        min: 1,
        max: 1,
        afterCreate(conn: BetterSqlite3.Database, done: (err: Error | null) => void) {
          // WAL lets readers work while a write commits; synchronous=NORMAL in WAL mode keeps every
          // committed transaction across a process crash (kill -9) — only an OS crash or power loss
          // can take back the last commits.
          conn.pragma('journal_mode = WAL');
          conn.pragma('synchronous = NORMAL');
          // Checkpoints are the checkpointer thread's (startMaintenance); this is only its backstop.
          conn.pragma(`wal_autocheckpoint = ${CHECKPOINT_BACKSTOP_PAGES}`);
          conn.pragma('foreign_keys = ON');
          conn.pragma('busy_timeout = 5000');
          reusePreparedStatements(conn);
          done(null);
        },
      },
      migrations: { migrationSource },
    } satisfies Knex.Config;
  },

  connectBus: async () => new LocalBus(),

  startMaintenance(target, log) {
    if (target.client !== 'sqlite' || target.filename === ':memory:') return { stop: async () => {} };
    return startCheckpointer(target.filename, log);
  },

  async execute(connection, { sql, values }) {
    // Prepared once per SQL text on this connection (reusePreparedStatements, below).
    const statement = (connection as BetterSqlite3.Database).prepare(sql);
    if (statement.reader) return { rows: statement.all(values as unknown[]), changes: 0 };
    return { rows: [], changes: statement.run(values as unknown[]).changes };
  },
};

// One group commit per database, keyed by the knex config its transactions share with it.
const groupCommits = new WeakMap<object, GroupCommit>();

function groupCommitOf(db: Db): GroupCommit {
  let group = groupCommits.get(db.client.config);
  if (!group) {
    group = new GroupCommit(db);
    groupCommits.set(db.client.config, group);
  }
  return group;
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
function reusePreparedStatements(conn: BetterSqlite3.Database): void {
  const prepare = conn.prepare.bind(conn);
  const prepared = new Map<string, BetterSqlite3.Statement>();
  conn.prepare = ((sql: string) => {
    let statement = prepared.get(sql);
    if (!statement) {
      statement = prepare(withPlannerFreeLimits(sql));
      if (prepared.size >= PREPARED_LIMIT) prepared.delete(prepared.keys().next().value as string);
      prepared.set(sql, statement);
    }
    return statement;
  }) as typeof conn.prepare;
}

/**
 * SQLite (with STAT4, as better-sqlite3 builds it) lets the planner read the value bound to a bare
 * `LIMIT ?` or `OFFSET ?`, and so marks the statement to be compiled again whenever that parameter
 * is bound anew — which better-sqlite3 does on every run, and knex binds every limit (`first()` is
 * `limit ?`). A unary plus makes the limit an expression the planner does not read: the same value,
 * and the statement stays compiled. Measured on the member view of a history page: 48–57 µs a run
 * with `limit ?`, 11–14 µs with `limit +?` or a literal.
 */
const withPlannerFreeLimits = (sql: string): string => sql.replace(/\b(limit|offset) \?/gi, '$1 +?');

// Satisfies the store's view of a dialect as well.
sqlite satisfies Dialect;
