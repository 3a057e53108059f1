import type { Db, Executor, Runner } from '../store/db.ts';
import { selectEventsForUser, selectLogBounds } from '../store/events.ts';
import { isAfter, type Position } from '../store/position.ts';
import { nowIso } from '../util/time.ts';
import { readConsistently, readPreparedConsistently } from './log.ts';
import { WireEvent } from './wire.ts';

/** Where a client's feed starts: after `after`, with a `reset` event first if its cursor could not be served. */
export interface StartingPoint {
  after: Position;
  reset: WireEvent | null;
}

/**
 * Where a client's feed starts. No cursor means "now": after everything committed before the
 * request — on PostgreSQL an event can be committed and still held back below the readers'
 * horizon, and a head read around it would hand the new client an event from before it asked, so
 * "now" is read consistently. A cursor older than retention (or newer than the log, say after the
 * database was replaced) cannot be served exactly: the client gets one `reset` event and continues
 * from the head.
 */
export function startingPoint(db: Db, cursor: Position | undefined): Promise<StartingPoint> {
  return cursor === undefined
    ? readPreparedConsistently(db, (trx) => startFrom(trx, cursor))
    : startFrom(db, cursor);
}

/** startingPoint on a connection, transaction or snapshot already as consistent as the caller needs. */
async function startFrom(db: Runner, cursor: Position | undefined): Promise<StartingPoint> {
  const { head, prunedThrough } = await selectLogBounds(db);
  if (cursor === undefined) return { after: head, reset: null };
  if (isAfter(prunedThrough, cursor) || isAfter(cursor, head) || isForeign(cursor, head)) {
    return { after: head, reset: WireEvent.reset(head, nowIso()) };
  }
  return { after: cursor, reset: null };
}

/**
 * A SQLite-shaped cursor (no transaction part) shown to a PostgreSQL log, whose positions all have
 * one: it comes from another database, and taken literally it would replay the whole log.
 */
const isForeign = (cursor: Position, head: Position): boolean =>
  cursor.tx === 0 && cursor.id > 0 && head.tx > 0;

/** How much one read returns, and whose presence it carries (Config.presenceGroupLimit). */
export interface FeedLimits {
  limit: number;
  presenceGroupLimit: number;
}

/** The next events from the log that this user may see, in log order. */
export async function readFeed(
  db: Executor,
  userId: number,
  after: Position,
  { limit, presenceGroupLimit }: FeedLimits,
): Promise<WireEvent[]> {
  const rows = await selectEventsForUser(db, userId, after, limit, presenceGroupLimit);
  return rows.map(WireEvent.fromRow);
}

/**
 * Everything committed before the request that this user may see from `cursor` on, as one
 * consistent read: what a poll that will not wait (timeout 0) answers — a client that polls right
 * after its own send sees it.
 */
export function readFeedNow(
  db: Db,
  userId: number,
  cursor: Position | undefined,
  limits: FeedLimits,
): Promise<StartingPoint & { backlog: WireEvent[] }> {
  return readConsistently(db, async (trx) => {
    const start = await startFrom(trx, cursor);
    return { ...start, backlog: await readFeed(trx, userId, start.after, limits) };
  });
}
