import type { Executor } from './db.ts';

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
  | 'presence.updated';

/** An event is seen either by every member of a conversation at the time, or by named users. */
export type NewEvent =
  | { type: LoggedEventType; conversationId: number; data: unknown }
  | { type: LoggedEventType; recipients: readonly number[]; data: unknown };

export interface EventRow {
  id: number;
  type: LoggedEventType;
  conversation_id: number | null;
  data: string;
  at: string;
}

const RECIPIENT_CHUNK = 400; // rows per INSERT: stays under SQLite's 999 bound parameters

export async function insertEvent(db: Executor, event: NewEvent, at: string): Promise<number> {
  const conversationId = 'conversationId' in event ? event.conversationId : null;
  const [row] = await db('events')
    .insert({ type: event.type, conversation_id: conversationId, data: JSON.stringify(event.data), at })
    .returning('id');
  const id = Number((row as { id: number | string }).id);
  if ('recipients' in event) {
    const rows = [...new Set(event.recipients)].map((userId) => ({ user_id: userId, event_id: id }));
    for (let i = 0; i < rows.length; i += RECIPIENT_CHUNK) {
      await db('event_recipients').insert(rows.slice(i, i + RECIPIENT_CHUNK));
    }
  }
  return id;
}

/** The events one user may see after `afterId`: their conversations while a member, and their own. */
export async function selectEventsForUser(
  db: Executor,
  userId: number,
  afterId: number,
  limit: number,
): Promise<EventRow[]> {
  const rows = await db.raw(
    `SELECT id, type, conversation_id, data, at FROM (
       SELECT e.id, e.type, e.conversation_id, e.data, e.at
         FROM memberships m
         JOIN events e ON e.conversation_id = m.conversation_id
                      AND e.id > m.joined_event_id
                      AND (m.left_event_id IS NULL OR e.id <= m.left_event_id)
        WHERE m.user_id = ? AND e.id > ?
       UNION ALL
       SELECT e.id, e.type, e.conversation_id, e.data, e.at
         FROM event_recipients r
         JOIN events e ON e.id = r.event_id
        WHERE r.user_id = ? AND r.event_id > ?
     ) visible
     ORDER BY id
     LIMIT ?`,
    [userId, afterId, userId, afterId, limit],
  );
  return normalizeRows(rows);
}

/** All events after `afterId`, for the node's log tail that fans them out. */
export async function selectEventsAfter(db: Executor, afterId: number, limit: number): Promise<EventRow[]> {
  const rows = await db('events')
    .select('id', 'type', 'conversation_id', 'data', 'at')
    .where('id', '>', afterId)
    .orderBy('id')
    .limit(limit);
  return rows.map((r) => ({ ...r, id: Number(r.id) }));
}

export interface AudienceRow {
  conversation_id: number;
  user_id: number;
  joined_event_id: number;
  left_event_id: number | null;
}

/** Membership periods of these conversations that may cover events after `afterId`. */
export async function selectAudiences(
  db: Executor,
  conversationIds: readonly number[],
  afterId: number,
): Promise<AudienceRow[]> {
  if (conversationIds.length === 0) return [];
  const rows = await db('memberships')
    .select('conversation_id', 'user_id', 'joined_event_id', 'left_event_id')
    .whereIn('conversation_id', conversationIds)
    .andWhere((q) => q.whereNull('left_event_id').orWhere('left_event_id', '>', afterId));
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

/** The id of the newest event, 0 for an empty log: the cursor that means "now". */
export async function selectHeadEventId(db: Executor): Promise<number> {
  const row = await db('events').max({ head: 'id' }).first();
  const pruned = await selectPrunedThrough(db);
  return Math.max(Number(row?.head ?? 0), pruned);
}

/** The newest event id that retention removed: a cursor below it may have missed events. */
export async function selectPrunedThrough(db: Executor): Promise<number> {
  const row = await db('log_state').where({ key: 'pruned_through' }).first('value');
  return Number(row?.value ?? 0);
}

/** Deletes events older than `beforeIso`, remembering how far the log was pruned. */
export async function pruneEvents(db: Executor, beforeIso: string): Promise<number> {
  return (db as import('knex').Knex).transaction(async (trx) => {
    const row = await trx('events').where('at', '<', beforeIso).max({ last: 'id' }).first();
    const last = Number(row?.last ?? 0);
    if (!last) return 0;
    const deleted = await trx('events').where('id', '<=', last).delete();
    await trx('log_state')
      .insert({ key: 'pruned_through', value: last })
      .onConflict('key')
      .merge({ value: last });
    return deleted;
  });
}

function normalizeRows(result: unknown): EventRow[] {
  // knex.raw returns an array on SQLite and a pg Result on PostgreSQL.
  const rows = (Array.isArray(result) ? result : (result as { rows: EventRow[] }).rows) as EventRow[];
  for (const r of rows) r.id = Number(r.id);
  return rows;
}
