import type { Db } from '../store/db.ts';
import { selectEventsForUser, selectHeadEventId, selectPrunedThrough } from '../store/events.ts';
import { nowIso } from '../time.ts';
import { WireEvent } from './wire.ts';

/**
 * Where a client's feed starts. No cursor means "now". A cursor older than retention (or newer
 * than the log, say after the database was replaced) cannot be served exactly: the client gets
 * one `reset` event and continues from now.
 */
export async function startingPoint(
  db: Db,
  cursor: number | undefined,
): Promise<{ after: number; reset: WireEvent | null }> {
  const [head, prunedThrough] = await Promise.all([selectHeadEventId(db), selectPrunedThrough(db)]);
  if (cursor === undefined) return { after: head, reset: null };
  if (cursor < prunedThrough || cursor > head) return { after: head, reset: WireEvent.reset(head, nowIso()) };
  return { after: cursor, reset: null };
}

/** The next events from the log that this user may see, oldest first. */
export async function readFeed(db: Db, userId: number, after: number, limit: number): Promise<WireEvent[]> {
  const rows = await selectEventsForUser(db, userId, after, limit);
  return rows.map(WireEvent.fromRow);
}
