import type { Deps } from './deps.ts';
import { notFound } from './errors.ts';
import { commitWithEvents, inConversation } from './events/log.ts';
import { selectUnreadCounts } from './store/conversations.ts';
import { advanceRead, type ReceiptRow, selectReceipt } from './store/receipts.ts';

export interface ReceiptJson {
  conversationId: string;
  userId: string;
  lastReadMessageId: string | null;
  lastDeliveredMessageId: string | null;
}

const messageIdOrNull = (id: number): string | null => (id > 0 ? String(id) : null);

/** A member's marks as the API shows them (null: nothing yet). */
export const presentReceipt = (conversationId: number, row: ReceiptRow): ReceiptJson => ({
  conversationId: String(conversationId),
  userId: String(row.user_id),
  lastReadMessageId: messageIdOrNull(Math.max(row.last_read_message_id, row.visible_after_message_id)),
  lastDeliveredMessageId: messageIdOrNull(
    Math.max(row.last_delivered_message_id, row.last_read_message_id, row.visible_after_message_id),
  ),
});

/**
 * Marks everything up to `messageId` read for the caller. Monotonic: an older id leaves the mark
 * where it is. An id beyond the newest message counts as the newest (it may just have been
 * deleted). Members — the caller's other devices included — get `receipt.updated` when it moves.
 */
export async function markConversationRead(
  deps: Deps,
  userId: number,
  conversationId: number,
  messageId: number,
): Promise<ReceiptJson & { unreadCount: number }> {
  return commitWithEvents(inConversation(deps, conversationId), async (trx, record) => {
    const before = await selectReceipt(trx, conversationId, userId);
    if (!before) throw notFound('There is no such conversation among yours.');
    const target = Math.min(messageId, before.last_message_id);
    if (await advanceRead(trx, before.membership_id, target)) {
      const after = (await selectReceipt(trx, conversationId, userId))!;
      await record({ type: 'receipt.updated', conversationId, data: presentReceipt(conversationId, after) });
    }
    const now = (await selectReceipt(trx, conversationId, userId))!;
    const unread = await selectUnreadCounts(trx, userId, [conversationId]);
    return { ...presentReceipt(conversationId, now), unreadCount: unread.get(conversationId) ?? 0 };
  });
}
