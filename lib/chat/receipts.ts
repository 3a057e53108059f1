import type { Store } from '../events/log.ts';
import { commitWithEvents, inConversation } from '../events/log.ts';
import { noSuchConversation, noSuchMessage } from '../http/problems.ts';
import { resettle, selectMemberView } from '../store/conversations.ts';
import { selectMessage } from '../store/messages.ts';
import { advanceRead, type ReceiptRow, selectReceipt, selectReceipts } from '../store/receipts.ts';

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
  deps: Store,
  userId: number,
  conversationId: number,
  messageId: number,
): Promise<ReceiptJson & { unreadCount: number }> {
  return commitWithEvents(inConversation(deps, conversationId), async (trx, record) => {
    const before = await selectReceipt(trx, conversationId, userId);
    if (!before) throw noSuchConversation();
    const target = Math.min(messageId, before.last_message_id);
    const moved = await advanceRead(trx, before.membership_id, target);
    if (moved) await resettle(trx, before.membership_id);
    const now = presentReceipt(conversationId, (await selectReceipt(trx, conversationId, userId))!);
    if (moved) await record({ type: 'receipt.updated', conversationId, data: now });
    const view = (await selectMemberView(trx, conversationId, userId))!;
    return { ...now, unreadCount: Number(view.unread_count) };
  });
}

/** Every current member's marks: with them a client works out the status of any message. */
export async function listReceipts(
  deps: Store,
  userId: number,
  conversationId: number,
): Promise<{ receipts: ReceiptJson[] }> {
  const rows = await selectReceipts(deps.db, conversationId);
  if (!rows.some((r) => r.user_id === userId)) throw noSuchConversation();
  return { receipts: rows.map((r) => presentReceipt(conversationId, r)) };
}

export interface MessageStatusJson {
  conversationId: string;
  messageId: string;
  status: 'sent' | 'delivered' | 'read';
  recipientCount: number;
  deliveredCount: number;
  readCount: number;
  deliveredTo: string[];
  readBy: string[];
}

/**
 * Where one message stands with its recipients — the current members other than its sender who
 * were members when it was sent. `read` once all of them read it, `delivered` once it reached all
 * of them, `sent` before; the counts and lists say who has it in a group.
 */
export async function messageStatus(
  deps: Store,
  userId: number,
  conversationId: number,
  messageId: number,
): Promise<MessageStatusJson> {
  const [rows, message] = await Promise.all([
    selectReceipts(deps.db, conversationId),
    selectMessage(deps.db, conversationId, messageId),
  ]);
  const caller = rows.find((r) => r.user_id === userId);
  if (!caller) throw noSuchConversation();
  if (!message || message.id <= caller.visible_after_message_id) {
    throw noSuchMessage(conversationId, messageId);
  }
  const recipients = rows.filter(
    (r) => r.user_id !== message.sender_id && r.visible_after_message_id < message.id,
  );
  const readBy = recipients.filter((r) => r.last_read_message_id >= message.id);
  const deliveredTo = recipients.filter(
    (r) => Math.max(r.last_delivered_message_id, r.last_read_message_id) >= message.id,
  );
  const all = (list: ReceiptRow[]) => recipients.length > 0 && list.length === recipients.length;
  return {
    conversationId: String(conversationId),
    messageId: String(message.id),
    status: all(readBy) ? 'read' : all(deliveredTo) ? 'delivered' : 'sent',
    recipientCount: recipients.length,
    deliveredCount: deliveredTo.length,
    readCount: readBy.length,
    deliveredTo: deliveredTo.map((r) => String(r.user_id)),
    readBy: readBy.map((r) => String(r.user_id)),
  };
}
