import { latest, ORIGIN, type Position } from '../events/position.ts';
import { type Db, type Executor, isPostgres, rowsOf } from './db.ts';

/** Every kind of event the log holds. A closed union, so user input never reaches an `event:` line. */
export type LoggedEventType =
  | 'message.created'
  | 'message.updated'
  | 'message.deleted'
  | 'conversation.created'
  | 'conversation.updated'
  | 'participant.added'
  | 'participant.removed'
  | 'receipt.updated'
  | 'user.updated'
  | 'user.deleted';

/** An event is seen either by every member of a conversation at the time, or by named users. */
export type NewEvent =
  | { type: LoggedEventType; conversationId: number; data: unknown }
  | { type: LoggedEventType; recipients: readonly number[]; data: unknown };

export interface EventRow {
  tx: number;
  id: number;
  type: LoggedEventType;
  conversation_id: number | null;
  data: string;
  at: string;
}

const RECIPIENT_CHUNK = 400; // rows per INSERT: stays under SQLite's 999 bound parameters

export async function insertEvent(db: Executor, event: NewEvent, at: string): Promise<number> {
  const [id] = await insertEvents(db, [event], at);
  return id!;
}

const EVENT_CHUNK = 200; // rows per INSERT: 4 parameters each, under SQLite's 999

/**
 * Inserts many events at once — a multi-row INSERT per chunk, then their recipients together —
 * and returns their ids in the order of `events`. Neither database promises RETURNING's row order,
 * but both take ids from an increasing sequence in VALUES order within one statement, so sorting
 * the returned ids restores it.
 */
export async function insertEvents(db: Executor, events: readonly NewEvent[], at: string): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < events.length; i += EVENT_CHUNK) {
    const chunk = events.slice(i, i + EVENT_CHUNK);
    const rows = await db('events')
      .insert(
        chunk.map((event) => ({
          type: event.type,
          conversation_id: 'conversationId' in event ? event.conversationId : null,
          data: JSON.stringify(event.data),
          at,
        })),
      )
      .returning('id');
    ids.push(...rows.map((r: { id: number | string }) => Number(r.id)).sort((a: number, b: number) => a - b));
  }
  await insertRecipients(
    db,
    events.flatMap((event, i) => recipientRows(event, ids[i]!)),
  );
  return ids;
}

/** The event_recipients rows of an event with named recipients (none for a conversation's event). */
function recipientRows(event: NewEvent, eventId: number): { user_id: number; event_id: number }[] {
  if (!('recipients' in event)) return [];
  return [...new Set(event.recipients)].map((userId) => ({ user_id: userId, event_id: eventId }));
}

async function insertRecipients(db: Executor, rows: { user_id: number; event_id: number }[]): Promise<void> {
  for (let i = 0; i < rows.length; i += RECIPIENT_CHUNK) {
    await db('event_recipients').insert(rows.slice(i, i + RECIPIENT_CHUNK));
  }
}

/**
 * On PostgreSQL, only events of transactions older than every transaction still running: a
 * running one may yet commit an event that sorts before the newest visible ones. Reading below
 * that horizon, in (tx, id) order, never skips an event that commits late. SQLite needs no horizon.
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
function horizon(db: Executor): string {
  return isPostgres(db) ? `AND e.tx < ${HORIZON}` : '';
}

/**
 * Whether committed events sit at or above the horizon, waiting for an older transaction to end.
 * That transaction may write no event and so wake no reader when it ends: PgBus asks this and wakes
 * the readers again while it is true. Always false on SQLite.
 */
export async function hasHeldBackEvents(db: Executor): Promise<boolean> {
  if (!isPostgres(db)) return false;
  const result = await db.raw(`SELECT EXISTS (SELECT 1 FROM events e WHERE e.tx >= ${HORIZON}) AS held`);
  return Boolean(result.rows[0]?.held);
}

/**
 * "After this position" in SQL, and the log's order. On SQLite every tx is 0, so the id alone
 * orders the log: one range over the primary key that the planner walks in order, instead of an OR
 * of two index ranges and a sort (a fifth of a millisecond per read, on every send's fan-out).
 */
const afterSql = (db: Executor) => (isPostgres(db) ? '(e.tx > ? OR (e.tx = ? AND e.id > ?))' : 'e.id > ?');
const afterArgs = (db: Executor, p: Position) => (isPostgres(db) ? [p.tx, p.tx, p.id] : [p.id]);
const logOrder = (db: Executor, prefix = '') => (isPostgres(db) ? `${prefix}tx, ${prefix}id` : `${prefix}id`);

/** The events one user may see after `after`: their conversations while a member, and their own. */
export async function selectEventsForUser(
  db: Executor,
  userId: number,
  after: Position,
  limit: number,
): Promise<EventRow[]> {
  const result = await db.raw(
    `SELECT tx, id, type, conversation_id, data, at FROM (
       SELECT e.tx, e.id, e.type, e.conversation_id, e.data, e.at
         FROM memberships m
         JOIN events e ON e.conversation_id = m.conversation_id
                      AND e.id > m.joined_event_id
                      AND (m.left_event_id IS NULL OR e.id <= m.left_event_id)
        WHERE m.user_id = ? AND ${afterSql(db)} ${horizon(db)}
       UNION ALL
       SELECT e.tx, e.id, e.type, e.conversation_id, e.data, e.at
         FROM event_recipients r
         JOIN events e ON e.id = r.event_id
        WHERE r.user_id = ? AND ${afterSql(db)} ${horizon(db)}
     ) visible
     ORDER BY ${logOrder(db)}
     LIMIT ?`,
    [userId, ...afterArgs(db, after), userId, ...afterArgs(db, after), limit],
  );
  return normalizeRows(rowsOf(result));
}

/** All events after `after`, for the node's log tail that fans them out. */
export async function selectEventsAfter(db: Executor, after: Position, limit: number): Promise<EventRow[]> {
  const result = await db.raw(
    `SELECT e.tx, e.id, e.type, e.conversation_id, e.data, e.at FROM events e
      WHERE ${afterSql(db)} ${horizon(db)}
      ORDER BY ${logOrder(db, 'e.')}
      LIMIT ?`,
    [...afterArgs(db, after), limit],
  );
  return normalizeRows(rowsOf(result));
}

export interface AudienceRow {
  conversation_id: number;
  user_id: number;
  joined_event_id: number;
  left_event_id: number | null;
}

/** Membership periods of these conversations that may cover events with ids from `fromId` on. */
export async function selectAudiences(
  db: Executor,
  conversationIds: readonly number[],
  fromId: number,
): Promise<AudienceRow[]> {
  if (conversationIds.length === 0) return [];
  const rows = await db('memberships')
    .select('conversation_id', 'user_id', 'joined_event_id', 'left_event_id')
    .whereIn('conversation_id', conversationIds)
    .andWhere((q) => q.whereNull('left_event_id').orWhere('left_event_id', '>=', fromId));
  return rows.map((r) => ({
    conversation_id: r.conversation_id,
    user_id: r.user_id,
    joined_event_id: Number(r.joined_event_id),
    left_event_id: r.left_event_id === null ? null : Number(r.left_event_id),
  }));
}

export async function selectRecipients(
  db: Executor,
  eventIds: readonly number[],
): Promise<{ event_id: number; user_id: number }[]> {
  if (eventIds.length === 0) return [];
  const rows = await db('event_recipients').select('event_id', 'user_id').whereIn('event_id', eventIds);
  return rows.map((r) => ({ event_id: Number(r.event_id), user_id: r.user_id }));
}

/**
 * The ends of the readable log: `head`, the newest readable event (or the pruning point) — the
 * cursor that means "now" — and `prunedThrough`, how far retention removed events.
 */
export async function selectLogBounds(db: Executor): Promise<{ head: Position; prunedThrough: Position }> {
  const newest = isPostgres(db)
    ? `SELECT e.tx, e.id FROM events e WHERE 1 = 1 ${horizon(db)} ORDER BY e.tx DESC, e.id DESC LIMIT 1`
    : 'SELECT e.tx, e.id FROM events e ORDER BY e.id DESC LIMIT 1';
  // One statement for both ends: every poll and stream opening asks.
  const result = await db.raw(
    `SELECT n.tx, n.id, p.tx AS pruned_tx, p.id AS pruned_id
       FROM (SELECT 1 AS one) start
       LEFT JOIN (${newest}) n ON 1 = 1
       LEFT JOIN log_state p ON p.key = 'pruned_through'`,
  );
  type Bounds = Record<'tx' | 'id' | 'pruned_tx' | 'pruned_id', number | string | null>;
  // Always one row: the bounds are joined onto a one-row select.
  const [row] = rowsOf<Bounds>(result) as [Bounds];
  const prunedThrough =
    row.pruned_id === null ? ORIGIN : { tx: Number(row.pruned_tx), id: Number(row.pruned_id) };
  const head = row.id === null ? ORIGIN : { tx: Number(row.tx), id: Number(row.id) };
  return { head: latest(head, prunedThrough), prunedThrough };
}

export async function selectHeadPosition(db: Executor): Promise<Position> {
  return (await selectLogBounds(db)).head;
}

/** Deletes events older than `beforeIso`, remembering how far the log was pruned. */
export async function pruneEvents(db: Db, beforeIso: string): Promise<number> {
  return db.transaction(async (trx) => {
    const old = trx('events').where('at', '<', beforeIso);
    const [last] = await old
      .clone()
      .select('tx', 'id')
      .orderBy([
        { column: 'tx', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(1);
    if (!last) return 0;
    const deleted = await old.clone().delete();
    const position = { tx: Number(last.tx), id: Number(last.id) };
    await trx('log_state')
      .insert({ key: 'pruned_through', ...position })
      .onConflict('key')
      .merge(position);
    return deleted;
  });
}

function normalizeRows(rows: EventRow[]): EventRow[] {
  for (const r of rows) {
    r.id = Number(r.id);
    r.tx = Number(r.tx);
  }
  return rows;
}
