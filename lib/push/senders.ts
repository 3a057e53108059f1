import type { PushSubscriptionRow } from '../store/push.ts';
import { type NotificationPayload, payloadJson } from './notification.ts';
import type { PushWorkers } from './push-workers.ts';

/** What became of one push, for the dispatcher to act on. */
export type PushOutcome =
  | { kind: 'sent' }
  /** The subscription is gone (404/410, or a gateway rejected the key): end it. */
  | { kind: 'expired'; detail: string }
  /** Worth another try (429, 5xx, no answer), after `retryAfterSeconds` if the service said. */
  | { kind: 'retry'; detail: string; retryAfterSeconds: number | null }
  /** Refused for good (other 4xx, a forbidden address): drop this notification. */
  | { kind: 'failed'; detail: string };

/**
 * The push service a subscription's pushes go to, as the start of its URL up to the path
 * (`https://fcm.googleapis.com/`): the unit the dispatcher bounds concurrency by.
 */
export function pushOriginOf(subscription: PushSubscriptionRow): string {
  const url = subscription.type === 'webpush' ? subscription.endpoint : subscription.gateway_url;
  const slash = url.indexOf('/', url.indexOf('://') + 3);
  return slash < 0 ? url : url.slice(0, slash + 1);
}

// A push service keeps an undelivered notification this long: a day, like the dispatcher's retries.
const WEB_PUSH_TTL_SECONDS = 86_400;

function outcomeOf(status: number, retryAfterSeconds: number | null, body: string): PushOutcome {
  if (status >= 200 && status < 300) return { kind: 'sent' };
  const detail = `HTTP ${status}${body ? `: ${body.slice(0, 120)}` : ''}`;
  if (status === 404 || status === 410) return { kind: 'expired', detail };
  if (status === 429 || status >= 500) return { kind: 'retry', detail, retryAfterSeconds };
  return { kind: 'failed', detail };
}

/**
 * Web Push (RFC 8030): the payload encrypted for the browser (RFC 8291, aes128gcm) and the request
 * signed with VAPID (RFC 8292), both by the `web-push` library in a push worker, which sends it.
 * Topic: one per conversation, so a push service holding notifications for an offline device
 * keeps only the newest of each conversation.
 */
export async function sendWebPush(
  workers: PushWorkers,
  subscription: Extract<PushSubscriptionRow, { type: 'webpush' }>,
  notification: NotificationPayload,
): Promise<PushOutcome> {
  const res = await workers.send({
    kind: 'webpush',
    subscription: {
      endpoint: subscription.endpoint,
      keys: { p256dh: subscription.p256dh, auth: subscription.auth },
    },
    payload: payloadJson(notification),
    options: {
      TTL: WEB_PUSH_TTL_SECONDS,
      urgency: notification.direct ? 'high' : 'normal',
      topic: `c${notification.conversationId}`,
      contentEncoding: 'aes128gcm',
    },
  });
  return outcomeOf(res.status, res.retryAfterSeconds, '');
}

/**
 * A Matrix Push Gateway API v1 notification (`POST /_matrix/push/v1/notify`, e.g. Sygnal), which
 * holds the APNs/FCM credentials. The gateway answers `rejected` with push keys that are dead.
 */
export async function sendToGateway(
  workers: PushWorkers,
  subscription: Extract<PushSubscriptionRow, { type: 'gateway' }>,
  notification: NotificationPayload,
): Promise<PushOutcome> {
  const body = JSON.stringify({
    notification: {
      event_id: notification.messageId ?? notification.eventCursor,
      room_id: notification.conversationId,
      type: notification.type === 'message' ? 'm.room.message' : 'm.room.member',
      sender: notification.senderId,
      sender_display_name: notification.senderName,
      room_name: notification.title,
      prio: notification.direct ? 'high' : 'low',
      ...(notification.body === null ? {} : { content: { msgtype: 'm.text', body: notification.body } }),
      counts: { unread: notification.unreadCount },
      devices: [
        {
          app_id: subscription.app_id,
          pushkey: subscription.push_key,
          data: { eventCursor: notification.eventCursor },
        },
      ],
    },
  });
  const res = await workers.send({
    kind: 'post',
    url: subscription.gateway_url,
    headers: { 'Content-Type': 'application/json' },
    body,
  });
  const outcome = outcomeOf(res.status, res.retryAfterSeconds, res.body);
  if (outcome.kind !== 'sent') return outcome;
  try {
    const rejected = (JSON.parse(res.body) as { rejected?: unknown }).rejected;
    if (Array.isArray(rejected) && rejected.includes(subscription.push_key)) {
      return { kind: 'expired', detail: 'the gateway rejected the push key' };
    }
  } catch {
    // A 2xx without a readable body is a success without rejections.
  }
  return outcome;
}
