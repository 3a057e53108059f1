import { selectMemberView } from '../store/conversations.ts';
import type { Executor } from '../store/db.ts';
import { selectMessage } from '../store/messages.ts';
import type { DeliveryRow } from '../store/push-deliveries.ts';
import { selectUserById } from '../store/users.ts';

/** What a device is told (README "Offline notifications"); at most 3 KiB as JSON. */
export interface NotificationPayload {
  type: 'message' | 'added';
  conversationId: string;
  messageId: string | null;
  senderId: string;
  senderName: string;
  title: string;
  /** A preview of at most PREVIEW_CHARS characters; null when previews are off. */
  body: string | null;
  unreadCount: number;
  eventCursor: string;
  /** Whether the conversation is direct: Web Push Urgency high. */
  direct: boolean;
}

export const PREVIEW_CHARS = 200;
export const PAYLOAD_LIMIT_BYTES = 3 * 1024;

/** Cuts to `n` code points, never through a surrogate pair, with an ellipsis when it cut. */
const preview = (text: string, n: number): string => {
  const chars = [...text.trim()];
  return chars.length <= n ? chars.join('') : `${chars.slice(0, n - 1).join('')}…`;
};

/**
 * The notification a delivery stands for, as of its turn — or null when it is no longer owed: the
 * message was deleted or already read, the recipient left or muted the conversation.
 */
export async function notificationFor(
  db: Executor,
  delivery: DeliveryRow,
  previews: boolean,
): Promise<NotificationPayload | null> {
  const view = await selectMemberView(db, delivery.conversation_id, delivery.user_id);
  if (!view) return null;
  if (view.muted_by !== null) return null; // muted before its turn
  const senderId = delivery.sender_id;
  let body: string | null = null;
  if (delivery.kind === 'message') {
    const message = await selectMessage(db, delivery.conversation_id, delivery.message_id ?? 0);
    if (!message) return null; // deleted before its turn
    if ((view.last_read_message_id ?? 0) >= message.id) return null; // read before its turn
    // An encrypted message has no text here to preview: its notification says only that it came.
    if (previews && message.ciphertext === null) body = preview(message.body, PREVIEW_CHARS);
  }
  const sender = await selectUserById(db, senderId);
  const senderName = preview(sender?.display_name ?? 'Someone', 64);
  const title = view.type === 'direct' ? senderName : preview(view.title ?? 'Group', 100);
  return {
    type: delivery.kind,
    conversationId: String(delivery.conversation_id),
    messageId: delivery.message_id === null ? null : String(delivery.message_id),
    senderId: String(senderId),
    senderName,
    title,
    body,
    unreadCount: Number(view.unread_count),
    eventCursor: delivery.event_cursor,
    direct: view.type === 'direct',
  };
}

/** The JSON a device receives (without the dispatcher's own fields). */
export function payloadJson(n: NotificationPayload): string {
  const { direct: _direct, ...wire } = n;
  return JSON.stringify(wire);
}
