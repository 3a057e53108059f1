import type { Executor } from './db.ts';

export type PushSubscriptionRow =
  | {
      device_id: string;
      user_id: number;
      type: 'webpush';
      endpoint: string;
      p256dh: string;
      auth: string;
      created_at: string;
    }
  | {
      device_id: string;
      user_id: number;
      type: 'gateway';
      gateway_url: string;
      app_id: string;
      push_key: string;
      created_at: string;
    };

/** Sets a device's subscription, replacing the one it had (a device has at most one). */
export async function upsertSubscription(db: Executor, row: PushSubscriptionRow): Promise<void> {
  const full = {
    endpoint: null,
    p256dh: null,
    auth: null,
    gateway_url: null,
    app_id: null,
    push_key: null,
    ...row,
    last_failure_at: null,
    last_failure: null,
  };
  await db('push_subscriptions').insert(full).onConflict('device_id').merge();
}

export async function deleteSubscription(db: Executor, deviceId: string): Promise<boolean> {
  return Number(await db('push_subscriptions').where({ device_id: deviceId }).delete()) > 0;
}

/** Records what the push service last answered when it failed, for GET /devices. */
export async function recordSubscriptionFailure(
  db: Executor,
  deviceId: string,
  at: string,
  failure: string,
): Promise<void> {
  await db('push_subscriptions')
    .where({ device_id: deviceId })
    .update({ last_failure_at: at, last_failure: failure.slice(0, 200) });
}

export async function setMuted(
  db: Executor,
  userId: number,
  conversationId: number,
  muted: boolean,
): Promise<void> {
  if (muted) {
    await db('conversation_mutes')
      .insert({ user_id: userId, conversation_id: conversationId })
      .onConflict(['user_id', 'conversation_id'])
      .ignore();
  } else {
    await db('conversation_mutes').where({ user_id: userId, conversation_id: conversationId }).delete();
  }
}

/** Forgets which conversations a user muted (the account is being deleted). */
export async function deleteMutesOf(db: Executor, userId: number): Promise<void> {
  await db('conversation_mutes').where({ user_id: userId }).delete();
}
