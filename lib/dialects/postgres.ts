import type { Knex } from 'knex';
import pg from 'pg';
import type { Db, Runner } from '../store/db.ts';
import { migrationSource } from '../store/migrations.ts';
import type { Position } from '../store/position.ts';
import { prepared, preparedTransaction } from '../store/prepared.ts';
import type { DatabaseDialect } from './dialect.ts';
import { PgBus } from './postgres-bus.ts';

/**
 * On PostgreSQL, only events of transactions older than every transaction still running are
 * readable: a running one may yet commit an event that sorts before the newest visible ones.
 * Reading below that horizon, in (tx, id) order, never skips an event that commits late.
 *
 * Why this holds: `tx` is the inserting transaction's id (pg_current_xact_id()), and a transaction
 * gets its id at its first write. Every id below the snapshot's xmin belongs to a transaction that
 * has finished, so its events are all visible now or never will be; every transaction that has not
 * yet written gets an id at or above xmin. So once a reader has passed (tx, id), nothing can appear
 * before it, and xmin only grows. The price: committed events wait while an older transaction runs
 * (hasHeldBackEvents), so event-writing transactions stay short, and commitWithEvents takes its
 * conversation lock before its first write so the wait for the lock holds no id back.
 */
const HORIZON = 'pg_snapshot_xmin(pg_current_snapshot())::text::bigint';

// The first keys of the two-key advisory lock space: (class, id). They keep Parley's locks apart
// from each other and from any advisory lock an operator may take.
const CONVERSATION_LOCK_CLASS = 0x50524c59; // "PRLY"
const USER_LOCK_CLASS = 0x50525355; // "PRSU"

// How long a read waits for events held back by a running transaction before settling for a
// cursor that may repeat a few of them (never lose one): longer than any healthy write transaction.
const CONSISTENT_READ_WAIT_MS = 2_000;
const RETRY = Symbol('retry');

const HELD_BACK = `EXISTS (SELECT 1 FROM events h WHERE h.tx >= ${HORIZON})`;

// Asked by every consistent read (a history page, a stream opened from now): built once.
const heldBackStatement = prepared([], (db) => db.raw(`SELECT ${HELD_BACK} AS held`));

async function hasHeldBackEvents(db: Runner): Promise<boolean> {
  const [row] = await heldBackStatement.rows<{ held: boolean }>(db, {});
  return Boolean(row?.held);
}

/**
 * Runs `attempt` (one consistent read) until its snapshot holds no event back, waiting 2 ms,
 * doubling to 100 ms, in between. `wait` tells the attempt whether it may still give up for
 * another (RETRY); after CONSISTENT_READ_WAIT_MS it reads whatever its snapshot holds.
 */
async function waitOutHeldBack<T>(attempt: (wait: boolean) => Promise<T | typeof RETRY>): Promise<T> {
  const deadline = Date.now() + CONSISTENT_READ_WAIT_MS;
  for (let delay = 2; ; delay = Math.min(delay * 2, 100)) {
    const result = await attempt(Date.now() < deadline);
    if (result !== RETRY) return result;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

// Taken by every send: built once (lib/store/prepared.ts).
const lockConversation = prepared(['id'], (db, p) =>
  db.raw('SELECT pg_advisory_xact_lock(?, ?)', [CONVERSATION_LOCK_CLASS, p.id]),
);

/** SQL for "event `e` comes after the position (tx, id)", given as SQL expressions. */
const after = (tx: string, id: string) => `(e.tx > ${tx} OR (e.tx = ${tx} AND e.id > ${id}))`;

export const postgres: DatabaseDialect = {
  name: 'postgres',
  logAfter: after('?', '?'),
  logAfterArgs: (p: Position) => [p.tx, p.tx, p.id],
  logBetween: (from, to) =>
    `${after(from.tx, from.id)} AND (e.tx < ${to.tx} OR (e.tx = ${to.tx} AND e.id <= ${to.id}))`,
  logOrder: (prefix = '', direction = 'ASC') => `${prefix}tx ${direction}, ${prefix}id ${direction}`,
  readable: `AND e.tx < ${HORIZON}`,
  heldBack: HELD_BACK,

  async lockConversations(trx, conversationIds) {
    // Sorted, so two writers locking several conversations cannot deadlock.
    for (const id of [...new Set(conversationIds)].sort((a, b) => a - b)) {
      await lockConversation.rows(trx, { id });
    }
  },

  claimRows: <Q extends Knex.QueryBuilder>(query: Q): Q => query.forUpdate().skipLocked() as Q,
  claimLock: 'FOR UPDATE SKIP LOCKED',
  // pg sends a JavaScript array as an array literal.
  listOf: (db, param, type) =>
    db.select(db.raw(`unnest(CAST(? AS ${type === 'integer' ? 'bigint' : 'text'}[])) AS value`, [param])),
  list: (values) => [...values],

  async lockUser(trx, userId) {
    await trx.raw('SELECT pg_advisory_xact_lock(?, ?)', [USER_LOCK_CLASS, userId]);
  },

  /**
   * One REPEATABLE READ snapshot, retried while it holds committed events above the readers'
   * horizon: such events are in the state but sort after the head position, so a stream opened
   * from it would repeat them.
   */
  readConsistently: (db, read) =>
    waitOutHeldBack((wait) =>
      db.transaction(async (trx) => (wait && (await hasHeldBackEvents(trx)) ? RETRY : read(trx)), {
        isolationLevel: 'repeatable read',
        readOnly: true,
      }),
    ),

  // The same snapshot and wait, in a prepared transaction.
  readPreparedConsistently: (db, read) =>
    waitOutHeldBack((wait) =>
      preparedTransaction(
        db,
        async (trx) => (wait && (await hasHeldBackEvents(trx)) ? RETRY : read(trx)),
        'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
      ),
    ),

  // Its connections commit side by side: a write has a transaction of its own.
  commitPrepared: (db, work) => preparedTransaction(db, work),

  /**
   * The configured schema is created first, and an advisory lock serialises whole runs: knex's own
   * migration lock only works once its tables exist, and two nodes creating them at the same moment
   * on an empty schema collide.
   */
  async migrate(db) {
    const schema = (db.client.config.searchPath as string[] | undefined)?.[0];
    if (schema) await createSchema(db, schema);
    return db.transaction(async (trx) => {
      await trx.raw(`SELECT pg_advisory_xact_lock(hashtext('parley.migrate:' || current_schema()))`);
      const [, applied] = await db.migrate.latest();
      return applied;
    });
  },

  // Its own background processes (autovacuum, checkpoints) need nothing from a node.
  startMaintenance: () => ({ stop: async () => {} }),

  knexConfig(target) {
    if (target.client !== 'postgres') throw new Error('not a PostgreSQL target');
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
  },

  async execute(connection, { sql, values, name }) {
    const result = await (connection as pg.Client).query({ name, text: sql, values: values as unknown[] });
    return { rows: result.rows, changes: result.rowCount ?? 0 };
  },

  async connectBus(db, target, log) {
    if (target.client !== 'postgres') throw new Error('not a PostgreSQL target');
    return PgBus.connect(db, target, log);
  },
};

async function createSchema(db: Db, schema: string): Promise<void> {
  try {
    await db.raw('CREATE SCHEMA IF NOT EXISTS ??', [schema]);
  } catch (err) {
    // Two nodes creating it at once: IF NOT EXISTS is not atomic, the loser sees a duplicate.
    const code = (err as { code?: string }).code;
    if (code !== '23505' && code !== '42P06') throw err;
  }
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
