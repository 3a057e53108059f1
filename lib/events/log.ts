import type { Knex } from 'knex';
import type { Db, Runner } from '../store/db.ts';
import { dialectOf } from '../store/dialect.ts';
import {
  type ConversationEvent,
  insertConversationEvent,
  insertEvent,
  insertEvents,
  type RecordEvent,
  type RecordEvents,
} from '../store/events.ts';
import { nowIso } from '../util/time.ts';
import type { Bus } from './bus.ts';

/** What a change to the chat needs: the database, and the bus that tells readers it committed. */
export interface Store {
  readonly db: Db;
  readonly bus: Bus;
}

export interface CommitTarget extends Store {
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
    if (deps.conversationIds?.length) await dialectOf(trx).lockConversations(trx, deps.conversationIds);
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

/**
 * commitWithEvents for a change written entirely in prepared statements (lib/store/prepared.ts),
 * recording events without named recipients: a send. The same guarantees — the conversations'
 * locks first, the change and its events in one transaction, readers woken after the commit —
 * without knex's per-transaction cost.
 */
export async function commitPreparedWithEvents<T>(
  deps: CommitTarget,
  work: (trx: Runner, record: (event: ConversationEvent) => Promise<number>) => Promise<T>,
): Promise<T> {
  let recorded = 0;
  const result = await dialectOf(deps.db).commitPrepared(deps.db, async (trx) => {
    if (deps.conversationIds?.length) await dialectOf(trx).lockConversations(trx, deps.conversationIds);
    return work(trx, (event) => {
      recorded++;
      return insertConversationEvent(trx, event, nowIso());
    });
  });
  if (recorded > 0) deps.bus.publish({ kind: 'log' });
  return result;
}

/**
 * Reads state and the event cursor as of that state, for "state, then stream, with no gap": a
 * stream opened from the cursor misses and repeats nothing of what the read saw.
 */
export const readConsistently = <T>(db: Db, read: (trx: Knex.Transaction) => Promise<T>): Promise<T> =>
  dialectOf(db).readConsistently(db, read);

/** readConsistently for a read of prepared statements only (lib/store/prepared.ts): a hot read. */
export const readPreparedConsistently = <T>(db: Db, read: (trx: Runner) => Promise<T>): Promise<T> =>
  dialectOf(db).readPreparedConsistently(db, read);
