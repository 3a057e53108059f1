import type { Db } from '../store/db.ts';
import { selectEventsForUser, selectLogBounds } from '../store/events.ts';
import { isAfter, type Position } from '../store/position.ts';
import { nowIso } from '../util/time.ts';
import { WireEvent } from './wire.ts';

/**
 * Where a client's feed starts. No cursor means "now". A cursor older than retention (or newer
 * than the log, say after the database was replaced) cannot be served exactly: the client gets
 * one `reset` event and continues from now.
 */
export async function startingPoint(
  db: Db,
  cursor: Position | undefined,
): Promise<{ after: Position; reset: WireEvent | null }> {
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

/** The next events from the log that this user may see, in log order. */
export async function readFeed(db: Db, userId: number, after: Position, limit: number): Promise<WireEvent[]> {
  const rows = await selectEventsForUser(db, userId, after, limit);
  return rows.map(WireEvent.fromRow);
}
