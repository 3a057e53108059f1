import type { Position } from '../events/position.ts';
import type { Executor } from './db.ts';

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
 * For each of the user's current conversations, the newest message whose `message.created` event
 * lies in (from, to] and after their joining: what a poll with cursor `to` acknowledged. Within one
 * conversation event ids follow message order (senders are serialised on the conversation row).
 */
export async function selectAcknowledgedMessages(
  db: Executor,
  userId: number,
  from: Position,
  to: Position,
): Promise<{ conversationId: number; messageId: number }[]> {
  const newest: { conversation_id: number; id: number | string }[] = await db('memberships as m')
    .join('events as e', function () {
      this.on('e.conversation_id', '=', 'm.conversation_id').andOn('e.id', '>', 'm.joined_event_id');
    })
    .select('e.conversation_id')
    .max({ id: 'e.id' })
    .where('m.user_id', userId)
    .whereNull('m.left_event_id')
    .andWhere('e.type', 'message.created')
    .andWhere((q) =>
      q.where('e.tx', '<', to.tx).orWhere((q2) => q2.where('e.tx', to.tx).andWhere('e.id', '<=', to.id)),
    )
    .andWhere((q) =>
      q.where('e.tx', '>', from.tx).orWhere((q2) => q2.where('e.tx', from.tx).andWhere('e.id', '>', from.id)),
    )
    .groupBy('e.conversation_id');
  if (newest.length === 0) return [];
  const events: { id: number | string; data: string }[] = await db('events')
    .select('id', 'data')
    .whereIn(
      'id',
      newest.map((r) => Number(r.id)),
    );
  const messageOf = new Map(
    events.map((e) => [Number(e.id), Number((JSON.parse(e.data) as { id: string }).id)]),
  );
  return newest.flatMap((r) => {
    const messageId = messageOf.get(Number(r.id));
    return messageId ? [{ conversationId: Number(r.conversation_id), messageId }] : [];
  });
}

/** Who sent messages in (afterId, upToId] of a conversation, other than `exceptUserId`. */
export async function selectSendersBetween(
  db: Executor,
  conversationId: number,
  afterId: number,
  upToId: number,
  exceptUserId: number,
): Promise<number[]> {
  const rows = await db('messages')
    .distinct('sender_id')
    .where('conversation_id', conversationId)
    .andWhere('id', '>', afterId)
    .andWhere('id', '<=', upToId)
    .andWhere('sender_id', '<>', exceptUserId);
  return rows.map((r: { sender_id: number }) => Number(r.sender_id));
}
