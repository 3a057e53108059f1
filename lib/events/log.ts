import type { Knex } from 'knex';
import { type Db, isPostgres } from '../store/db.ts';
import { hasHeldBackEvents, insertEvent, insertEvents, type NewEvent } from '../store/events.ts';
import { nowIso } from '../time.ts';
import type { Bus } from './bus.ts';

export type RecordEvent = (event: NewEvent) => Promise<number>;
/** Records many events in a few statements; their ids come back in the order given. */
export type RecordEvents = (events: readonly NewEvent[]) => Promise<number[]>;

export interface CommitTarget {
  db: Db;
  bus: Bus;
  /**
   * The conversations this change writes to. On PostgreSQL their advisory locks are the first
   * statements of the transaction, so concurrent writers to one conversation queue before any of
   * them has a transaction id: ids are then assigned in lock order, and message ids, event
   * positions (tx, id) and commits agree on one order per conversation. Writers to different
   * conversations never wait for each other — there is no cluster-wide hot row.
   */
  conversationIds?: readonly number[];
}

/** `deps` for a change to these conversations: commitWithEvents(inConversation(deps, id), …). */
export const inConversation = (deps: { db: Db; bus: Bus }, ...conversationIds: number[]): CommitTarget => ({
  db: deps.db,
  bus: deps.bus,
  conversationIds,
});

// The first key of the two-key advisory lock space: (this class, conversation id). Keeps
// conversation locks apart from any other advisory lock an operator may take.
const CONVERSATION_LOCK_CLASS = 0x50524c59; // "PRLY"

/**
 * Runs `work` in one transaction in which it records the events describing its change, so the
 * change and its events commit together; then wakes the readers. Publishing only after commit
 * means a woken reader always finds the events it was woken for.
 */
export async function commitWithEvents<T>(
  deps: CommitTarget,
  work: (trx: Knex.Transaction, record: RecordEvent, recordMany: RecordEvents) => Promise<T>,
): Promise<T> {
  let recorded = 0;
  const result = await deps.db.transaction(async (trx) => {
    if (deps.conversationIds?.length && isPostgres(trx)) {
      // Sorted, so two writers locking several conversations cannot deadlock.
      for (const id of [...new Set(deps.conversationIds)].sort((a, b) => a - b)) {
        await trx.raw('SELECT pg_advisory_xact_lock(?, ?)', [CONVERSATION_LOCK_CLASS, id]);
      }
    }
    return work(
      trx,
      (event) => {
        recorded++;
        return insertEvent(trx, event, nowIso());
      },
      (events) => {
        recorded += events.length;
        return insertEvents(trx, events, nowIso());
      },
    );
  });
  if (recorded > 0) deps.bus.publish({ kind: 'log' });
  return result;
}

// How long a read waits for events held back by a running transaction before settling for a
// cursor that may repeat a few of them (never lose one): longer than any healthy write transaction.
const CONSISTENT_READ_WAIT_MS = 2_000;

/**
 * Reads state and the event cursor as of that state, for "state, then stream, with no gap". On
 * PostgreSQL the read runs in one REPEATABLE READ snapshot, and is retried while that snapshot
 * holds committed events above the readers' horizon: such events are in the state but sort after
 * the head position, so a stream opened from it would repeat them. SQLite's one connection makes
 * any transaction consistent already.
 */
export async function readConsistently<T>(db: Db, read: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  if (!isPostgres(db)) return db.transaction(read);
  const deadline = Date.now() + CONSISTENT_READ_WAIT_MS;
  for (let delay = 2; ; delay = Math.min(delay * 2, 100)) {
    const result = await db.transaction(
      async (trx) => {
        if (Date.now() < deadline && (await hasHeldBackEvents(trx))) return RETRY;
        return read(trx);
      },
      { isolationLevel: 'repeatable read', readOnly: true },
    );
    if (result !== RETRY) return result as T;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

const RETRY = Symbol('retry');
