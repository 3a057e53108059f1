import type { Knex } from 'knex';
import { type Db, type Executor, type Runner, rowsOf } from './db.ts';
import { type Dialect, dialectOf } from './dialect.ts';
import { latest, ORIGIN, type Position } from './position.ts';
import { prepared } from './prepared.ts';

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
  | 'user.deleted'
  | 'device.added'
  | 'device.removed'
  | 'key-packages.low'
  | 'mls.commit'
  | 'mls.welcome'
  | 'presence.updated';

/** What an event is about, where readers look events up by it. */
interface EventSubject {
  /** The message a message.created or message.updated shows (its text is rewritten with it). */
  messageId?: number;
}

/**
 * An event is seen by every member of a conversation at the time, by named users, or — a
 * presence.updated — by everyone who shares a conversation with its subject when it is read.
 */
export type NewEvent =
  | ({ type: LoggedEventType; conversationId: number; data: unknown } & EventSubject)
  | ({ type: LoggedEventType; recipients: readonly number[]; data: unknown } & EventSubject)
  | { type: 'presence.updated'; subjectUserId: number; data: unknown };

/** Records an event in the transaction of the change it describes; resolves to its id. */
export type RecordEvent = (event: NewEvent) => Promise<number>;
/** Records many events in a few statements; their ids come back in the order given. */
export type RecordEvents = (events: readonly NewEvent[]) => Promise<number[]>;

export interface EventRow {
  tx: number;
  id: number;
  type: LoggedEventType;
  conversation_id: number | null;
  data: string;
  at: string;
}

// Rows per INSERT. knex writes a multi-row INSERT on SQLite as one compound SELECT, and SQLite allows
// at most 500 terms in one (SQLITE_MAX_COMPOUND_SELECT).
const RECIPIENT_CHUNK = 400;

const EVENT_COLUMNS = ['type', 'conversation_id', 'message_id', 'subject_user_id', 'data', 'at'] as const;
type EventColumns = Record<(typeof EVENT_COLUMNS)[number], unknown>;

const eventColumns = (event: NewEvent, at: string): EventColumns => ({
  type: event.type,
  conversation_id: 'conversationId' in event ? event.conversationId : null,
  message_id: 'messageId' in event ? (event.messageId ?? null) : null,
  subject_user_id: 'subjectUserId' in event ? event.subjectUserId : null,
  data: JSON.stringify(event.data),
  at,
});

// One event, as every send records it: built once (lib/store/prepared.ts).
const insertOneEvent = prepared(EVENT_COLUMNS, (db, p) => db('events').insert(p).returning('id'));

export async function insertEvent(db: Executor, event: NewEvent, at: string): Promise<number> {
  const id = await insertEventRow(db, event, at);
  await insertRecipients(db, recipientRows(event, id));
  return id;
}

/** An event without named recipients: seen by a conversation's members, or a presence transition. */
export type ConversationEvent = Exclude<NewEvent, { recipients: readonly number[] }>;

/** Records such an event in one prepared statement, so a prepared transaction can record it. */
export const insertConversationEvent = (db: Runner, event: ConversationEvent, at: string): Promise<number> =>
  insertEventRow(db, event, at);

async function insertEventRow(db: Runner, event: NewEvent, at: string): Promise<number> {
  const [row] = await insertOneEvent.rows<{ id: number | string }>(db, eventColumns(event, at));
  return Number(row!.id);
}

const EVENT_CHUNK = 200; // rows per INSERT, under the same 500-term bound

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
      .insert(chunk.map((event) => eventColumns(event, at)))
      .returning('id');
    ids.push(...rows.map((r: { id: number | string }) => Number(r.id)).sort((a: number, b: number) => a - b));
  }
  await insertRecipients(
    db,
    events.flatMap((event, i) => recipientRows(event, ids[i]!)),
  );
  return ids;
}

/**
 * Takes a deleted message's text out of the log: the events that showed it (its message.created
 * and message.updated) go; the message.deleted that follows them is all a later replay returns.
 */
export async function deleteMessageEvents(db: Executor, messageId: number): Promise<void> {
  await db('events').where({ message_id: messageId }).delete();
}

/**
 * Makes every event that showed a message show it as it is now, so an edit leaves no earlier text
 * to replay. Each event keeps its place (and type) in the log.
 */
export async function rewriteMessageEvents(db: Executor, messageId: number, data: unknown): Promise<void> {
  await db('events')
    .where({ message_id: messageId })
    .update({ data: JSON.stringify(data) });
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
 * The events one user may see after `after`: their conversations while a member, their own, and
 * the presence transitions of whoever shares a conversation of at most `presenceGroupLimit`
 * members with them now.
 */
export async function selectEventsForUser(
  db: Executor,
  userId: number,
  after: Position,
  limit: number,
  presenceGroupLimit: number,
): Promise<EventRow[]> {
  const d = dialectOf(db);
  const result = await db.raw(
    `SELECT tx, id, type, conversation_id, data, at FROM (
       SELECT e.tx, e.id, e.type, e.conversation_id, e.data, e.at
         FROM memberships m
         JOIN events e ON e.conversation_id = m.conversation_id
                      AND e.id > m.joined_event_id
                      AND (m.left_event_id IS NULL OR e.id <= m.left_event_id)
        WHERE m.user_id = ? AND ${d.logAfter} ${d.readable}
       UNION ALL
       SELECT e.tx, e.id, e.type, e.conversation_id, e.data, e.at
         FROM event_recipients r
         JOIN events e ON e.id = r.event_id
        WHERE r.user_id = ? AND ${d.logAfter} ${d.readable}
       UNION ALL
       -- Presence transitions of the user and of everyone they share a small conversation with now.
       SELECT e.tx, e.id, e.type, e.conversation_id, e.data, e.at
         FROM events e
        WHERE e.subject_user_id IS NOT NULL AND ${d.logAfter} ${d.readable}
          AND (e.subject_user_id = ? OR EXISTS (
                SELECT 1 FROM memberships mine
                  JOIN conversations c ON c.id = mine.conversation_id AND c.member_count <= ?
                  JOIN memberships theirs ON theirs.conversation_id = mine.conversation_id
                 WHERE mine.user_id = ? AND mine.left_event_id IS NULL
                   AND theirs.user_id = e.subject_user_id AND theirs.left_event_id IS NULL))
     ) visible
     ORDER BY ${d.logOrder()}
     LIMIT ?`,
    [
      userId,
      ...d.logAfterArgs(after),
      userId,
      ...d.logAfterArgs(after),
      ...d.logAfterArgs(after),
      userId,
      presenceGroupLimit,
      userId,
      limit,
    ],
  );
  return normalizeRows(rowsOf(result));
}

/** All events after `after`, for the node's log tail that fans them out. */
/**
 * The node's tail read: the next events after `after`, and whether committed events wait above the
 * readers' horizon — both from one statement, so one snapshot: a transaction that held events back
 * and ends between the read and a later look cannot go unnoticed.
 */
export async function selectTail(
  db: Executor,
  after: Position,
  limit: number,
): Promise<{ rows: EventRow[]; heldBack: boolean }> {
  if (dialectOf(db).heldBack === null)
    return { rows: await selectEventsAfter(db, after, limit), heldBack: false };
  const rows = await tailStatement.rows<EventRow>(db, { ...after, limit });
  // The held-back flag rides on a row of its own, with no position, sorted last.
  const heldBack = rows.length > 0 && (rows.at(-1)!.id as number | null) === null;
  return { rows: normalizeRows(heldBack ? rows.slice(0, -1) : rows), heldBack };
}

export async function selectEventsAfter(db: Runner, after: Position, limit: number): Promise<EventRow[]> {
  return normalizeRows(await eventsAfterStatement.rows<EventRow>(db, { ...after, limit }));
}

// The node's tail reads after every commit: built once (lib/store/prepared.ts).
const eventsAfterSql = (
  d: Dialect,
) => `SELECT e.tx, e.id, e.type, e.conversation_id, e.data, e.at FROM events e
      WHERE ${d.logAfter} ${d.readable}
      ORDER BY ${d.logOrder('e.')}
      LIMIT ?`;
/** The dialect's arguments for "after this position", as the statement's parameters. */
const afterArgs = (d: Dialect, p: Record<'tx' | 'id', Knex.Value>) =>
  d.logAfterArgs(p as unknown as Position) as unknown as Knex.Value[];

const eventsAfterStatement = prepared(['tx', 'id', 'limit'], (knex, p) => {
  const d = dialectOf(knex);
  return knex.raw(eventsAfterSql(d), [...afterArgs(d, p), p.limit]);
});

const tailStatement = prepared(['tx', 'id', 'limit'], (knex, p) => {
  const d = dialectOf(knex);
  return knex.raw(
    `SELECT * FROM (${eventsAfterSql(d)}) page
     UNION ALL
     SELECT NULL, NULL, NULL, NULL, NULL, NULL WHERE ${d.heldBack}
     ORDER BY ${d.logOrder()}`,
    [...afterArgs(d, p), p.limit],
  );
});

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
export async function selectLogBounds(db: Runner): Promise<{ head: Position; prunedThrough: Position }> {
  type Bounds = Record<'tx' | 'id' | 'pruned_tx' | 'pruned_id', number | string | null>;
  // Always one row: the bounds are joined onto a one-row select.
  const [row] = (await logBoundsStatement.rows<Bounds>(db, {})) as [Bounds];
  const prunedThrough =
    row.pruned_id === null ? ORIGIN : { tx: Number(row.pruned_tx), id: Number(row.pruned_id) };
  const head = row.id === null ? ORIGIN : { tx: Number(row.tx), id: Number(row.id) };
  return { head: latest(head, prunedThrough), prunedThrough };
}

// One statement for both ends, built once: every poll, stream opening and history page asks.
const logBoundsStatement = prepared([], (knex) => {
  const d = dialectOf(knex);
  const newest = `SELECT e.tx, e.id FROM events e WHERE 1 = 1 ${d.readable} ORDER BY ${d.logOrder('e.', 'DESC')} LIMIT 1`;
  return knex.raw(
    `SELECT n.tx, n.id, p.tx AS pruned_tx, p.id AS pruned_id
       FROM (SELECT 1 AS one) start
       LEFT JOIN (${newest}) n ON 1 = 1
       LEFT JOIN log_state p ON p.key = 'pruned_through'`,
  );
});

export async function selectHeadPosition(db: Runner): Promise<Position> {
  return (await selectLogBounds(db)).head;
}

/**
 * Deletes presence transitions older than `beforeIso`. They are kept only for clients between two
 * polls or reconnecting, so how far they go back is not recorded (an older cursor is still served,
 * without them) — but the newest event stays whatever it is: it is the log's head, the "now" of
 * every client's cursor.
 */
export async function prunePresenceEvents(db: Db, beforeIso: string): Promise<number> {
  const d = dialectOf(db);
  return db('events')
    .whereNotNull('subject_user_id')
    .andWhere('at', '<', beforeIso)
    .whereNotIn('id', db('events').select('id').orderByRaw(d.logOrder('', 'DESC')).limit(1))
    .delete();
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
