import type { DeliveryRow, DeliveryState } from '../store/push-deliveries.ts';

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
 * The notification a delivery stands for, as of its turn (`state`, read for its whole claim at
 * once) — or null when it is no longer owed: the message was deleted or already read, the
 * recipient left or muted the conversation.
 */
export function notificationOf(
  delivery: DeliveryRow,
  state: DeliveryState,
  previews: boolean,
): NotificationPayload | null {
  const { member, message } = state;
  if (!member) return null;
  if (member.muted) return null; // muted before its turn
  let body: string | null = null;
  if (delivery.kind === 'message') {
    if (!message) return null; // deleted before its turn
    if (member.lastReadMessageId >= message.id) return null; // read before its turn
    // An encrypted message has no text here to preview: its notification says only that it came.
    if (previews && !message.encrypted) body = preview(message.body, PREVIEW_CHARS);
  }
  const senderName = preview(state.senderName ?? 'Someone', 64);
  const title = member.direct ? senderName : preview(member.title ?? 'Group', 100);
  return {
    type: delivery.kind,
    conversationId: String(delivery.conversation_id),
    messageId: delivery.message_id === null ? null : String(delivery.message_id),
    senderId: String(delivery.sender_id),
    senderName,
    title,
    body,
    unreadCount: member.unreadCount,
    eventCursor: delivery.event_cursor,
    direct: member.direct,
  };
}

/** The JSON a device receives (without the dispatcher's own fields). */
export function payloadJson(n: NotificationPayload): string {
  const { direct: _direct, ...wire } = n;
  return JSON.stringify(wire);
}
