import type { Store } from '../events/log.ts';
import { notFound, pushEndpointRefused, pushGatewayNotAllowed } from '../http/problems.ts';
import { checkEndpoint, EndpointRefused } from '../push/endpoint-guard.ts';
import type { Session } from '../security/sessions.ts';
import type { Executor } from '../store/db.ts';
import { selectDevice } from '../store/devices.ts';
import { deleteSubscription, setMuted, upsertSubscription } from '../store/push.ts';
import { nowIso } from '../util/time.ts';
import { memberOf } from './access.ts';
import { conversationOf } from './conversations.ts';
import { type DeviceJson, getDevice } from './devices.ts';

export type SubscriptionInput =
  | { type: 'webpush'; endpoint: string; keys: { p256dh: string; auth: string } }
  | { type: 'gateway'; url: string; appId: string; pushKey: string };

export interface PushRules {
  /** PUSH_GATEWAYS: the only gateway URLs a device may name. */
  gateways: readonly string[];
  allowPrivateEndpoints: boolean;
}

const noSuchDevice = () => notFound('There is no such device among yours.');

/**
 * Subscribes one of the caller's devices to offline notifications, replacing its subscription. A
 * Web Push endpoint is checked now (https, a public address) and again at every send; a gateway
 * must be one the operator configured.
 */
export async function subscribeDevice(
  db: Executor,
  rules: PushRules,
  session: Session,
  deviceId: string,
  input: SubscriptionInput,
): Promise<DeviceJson> {
  if (!(await selectDevice(db, session.userId, deviceId))) throw noSuchDevice();
  const base = { device_id: deviceId, user_id: session.userId, created_at: nowIso() };
  if (input.type === 'webpush') {
    try {
      await checkEndpoint(input.endpoint, rules.allowPrivateEndpoints);
    } catch (err) {
      if (err instanceof EndpointRefused) throw pushEndpointRefused(err.message);
      throw err;
    }
    await upsertSubscription(db, {
      ...base,
      type: 'webpush',
      endpoint: input.endpoint,
      p256dh: input.keys.p256dh,
      auth: input.keys.auth,
    });
  } else {
    if (!rules.gateways.includes(input.url)) throw pushGatewayNotAllowed(input.url);
    await upsertSubscription(db, {
      ...base,
      type: 'gateway',
      gateway_url: input.url,
      app_id: input.appId,
      push_key: input.pushKey,
    });
  }
  return getDevice(db, session, deviceId);
}

export async function unsubscribeDevice(db: Executor, session: Session, deviceId: string): Promise<void> {
  if (!(await selectDevice(db, session.userId, deviceId))) throw noSuchDevice();
  await deleteSubscription(db, deviceId);
}

/** Mutes (`none`) or unmutes (`all`) a conversation's notifications for the caller. */
export async function setNotificationLevel(
  deps: Store,
  session: Session,
  conversationId: number,
  level: 'all' | 'none',
) {
  await memberOf(deps.db, conversationId, session.userId);
  await setMuted(deps.db, session.userId, conversationId, level === 'none');
  return conversationOf(deps.db, conversationId, session.userId);
}
