import { type Executor, rowsOf } from './db.ts';
import { dialectOf } from './dialect.ts';
import type { Position } from './position.ts';

export interface ReceiptRow {
  membership_id: number;
  user_id: number;
  visible_after_message_id: number;
  last_read_message_id: number;
  last_delivered_message_id: number;
  /** The conversation's newest message, 0 when it has none. */
  last_message_id: number;
}

const numbers = (r: Record<string, unknown>): ReceiptRow => ({
  membership_id: Number(r.membership_id),
  user_id: Number(r.user_id),
  visible_after_message_id: Number(r.visible_after_message_id),
  last_read_message_id: Number(r.last_read_message_id),
  last_delivered_message_id: Number(r.last_delivered_message_id),
  last_message_id: Number(r.last_message_id ?? 0),
});

const COLUMNS = [
  'm.id as membership_id',
  'm.user_id',
  'm.visible_after_message_id',
  'm.last_read_message_id',
  'm.last_delivered_message_id',
  'c.last_message_id',
];

/** A current member's read and delivered marks in one conversation. */
export async function selectReceipt(
  db: Executor,
  conversationId: number,
  userId: number,
): Promise<ReceiptRow | undefined> {
  const row = await db('memberships as m')
    .join('conversations as c', 'c.id', 'm.conversation_id')
    .first(COLUMNS)
    .where({ 'm.conversation_id': conversationId, 'm.user_id': userId })
    .whereNull('m.left_event_id');
  return row ? numbers(row) : undefined;
}

// Bound parameters per statement: far below any SQLite build's limit (999 before 3.32, 32,766 since),
// and small enough that one statement never holds the single SQLite connection for long.
const IDS_PER_STATEMENT = 900;

/** The marks of those of `userIds` who are current members of the conversation. */
export async function selectReceiptsOf(
  db: Executor,
  conversationId: number,
  userIds: readonly number[],
): Promise<ReceiptRow[]> {
  const rows: ReceiptRow[] = [];
  for (const ids of chunks(userIds, IDS_PER_STATEMENT)) {
    const found = await db('memberships as m')
      .join('conversations as c', 'c.id', 'm.conversation_id')
      .select(COLUMNS)
      .where('m.conversation_id', conversationId)
      .whereIn('m.user_id', ids)
      .whereNull('m.left_event_id');
    rows.push(...found.map(numbers));
  }
  return rows;
}

/** Every current member's marks in one conversation, longest-standing first. */
export async function selectReceipts(db: Executor, conversationId: number): Promise<ReceiptRow[]> {
  const rows = await db('memberships as m')
    .join('conversations as c', 'c.id', 'm.conversation_id')
    .select(COLUMNS)
    .where('m.conversation_id', conversationId)
    .whereNull('m.left_event_id')
    .orderBy('m.id');
  return rows.map(numbers);
}

/**
 * Moves the read mark forward to `messageId` (never back) and the delivered mark with it, since
 * what was read was delivered. Returns whether the read mark moved. A single conditional UPDATE,
 * so concurrent marks settle on the largest.
 */
export async function advanceRead(db: Executor, membershipId: number, messageId: number): Promise<boolean> {
  const moved = await db('memberships')
    .where({ id: membershipId })
    .andWhere('last_read_message_id', '<', messageId)
    .update({ last_read_message_id: messageId });
  await advanceDelivered(db, membershipId, messageId);
  return Number(moved) > 0;
}

/** Moves the delivered mark forward to `messageId`, never back. Returns whether it moved. */
export async function advanceDelivered(
  db: Executor,
  membershipId: number,
  messageId: number,
): Promise<boolean> {
  const moved = await db('memberships')
    .where({ id: membershipId })
    .andWhere('last_delivered_message_id', '<', messageId)
    .update({ last_delivered_message_id: messageId });
  return Number(moved) > 0;
}

/**
 * Moves the delivered marks of these memberships forward to `messageId`, never back: one UPDATE
 * per chunk, so concurrent marks settle on the largest. Returns the memberships whose mark moved.
 */
export async function advanceDeliveredAll(
  db: Executor,
  membershipIds: readonly number[],
  messageId: number,
): Promise<Set<number>> {
  const moved = new Set<number>();
  for (const ids of chunks(membershipIds, IDS_PER_STATEMENT)) {
    const rows = await db('memberships')
      .whereIn('id', ids)
      .andWhere('last_delivered_message_id', '<', messageId)
      .update({ last_delivered_message_id: messageId })
      .returning('id');
    for (const row of rows as { id: number | string }[]) moved.add(Number(row.id));
  }
  return moved;
}

/** The messages of a conversation in (afterId, upToId], oldest first: who sent what. */
export async function selectMessageSenders(
  db: Executor,
  conversationId: number,
  afterId: number,
  upToId: number,
): Promise<{ id: number; senderId: number }[]> {
  const rows = await db('messages')
    .select('id', 'sender_id')
    .where('conversation_id', conversationId)
    .andWhere('id', '>', afterId)
    .andWhere('id', '<=', upToId)
    .orderBy('id');
  return rows.map((r: { id: number; sender_id: number }) => ({
    id: Number(r.id),
    senderId: Number(r.sender_id),
  }));
}

/** A user's poll cursors: they acknowledged the events in (from, to]. */
export interface AcknowledgedRange {
  userId: number;
  from: Position;
  to: Position;
}

const RANGES_PER_STATEMENT = 190; // 5 bound parameters each: the same bound as above

/**
 * For each range's user and each of their current conversations, the newest message whose
 * `message.created` event lies in (from, to] and after their joining: what their poll acknowledged.
 * One statement per chunk of users. Within one conversation event ids follow message order (senders
 * are serialised on the conversation), so the newest event names the newest message.
 */
export async function selectAcknowledgedMessages(
  db: Executor,
  ranges: readonly AcknowledgedRange[],
): Promise<{ userId: number; conversationId: number; messageId: number }[]> {
  const newest: { user_id: number | string; conversation_id: number | string; id: number | string }[] = [];
  for (const chunk of chunks(ranges, RANGES_PER_STATEMENT)) {
    // CAST: PostgreSQL would type untyped VALUES parameters as text.
    const values = chunk.map(() => `(${Array(5).fill('CAST(? AS BIGINT)').join(', ')})`).join(', ');
    const result = await db.raw(
      `WITH acked (user_id, from_tx, from_id, to_tx, to_id) AS (VALUES ${values})
       SELECT a.user_id, e.conversation_id, MAX(e.id) AS id
         FROM acked a
         JOIN memberships m ON m.user_id = a.user_id AND m.left_event_id IS NULL
         JOIN events e ON e.conversation_id = m.conversation_id AND e.id > m.joined_event_id
        WHERE e.type = 'message.created'
          AND ${dialectOf(db).logBetween({ tx: 'a.from_tx', id: 'a.from_id' }, { tx: 'a.to_tx', id: 'a.to_id' })}
        GROUP BY a.user_id, e.conversation_id`,
      chunk.flatMap((r) => [r.userId, r.from.tx, r.from.id, r.to.tx, r.to.id]),
    );
    newest.push(...rowsOf<(typeof newest)[number]>(result));
  }
  const messageOf = await selectCreatedMessageIds(
    db,
    newest.map((r) => Number(r.id)),
  );
  return newest.flatMap((r) => {
    const messageId = messageOf.get(Number(r.id));
    return messageId
      ? [{ userId: Number(r.user_id), conversationId: Number(r.conversation_id), messageId }]
      : [];
  });
}

/** event id → the id of the message its `message.created` data names. */
async function selectCreatedMessageIds(
  db: Executor,
  eventIds: readonly number[],
): Promise<Map<number, number>> {
  const messageOf = new Map<number, number>();
  for (const ids of chunks([...new Set(eventIds)], IDS_PER_STATEMENT)) {
    const events: { id: number | string; data: string }[] = await db('events')
      .select('id', 'data')
      .whereIn('id', ids);
    for (const e of events) messageOf.set(Number(e.id), Number((JSON.parse(e.data) as { id: string }).id));
  }
  return messageOf;
}

function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
