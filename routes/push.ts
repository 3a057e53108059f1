import { z } from 'zod';
import { setNotificationLevel, subscribeDevice, unsubscribeDevice } from '../lib/chat/push-subscriptions.ts';
import { route } from '../lib/http/route.ts';
import { Conversation, ConversationParams, Device, DeviceParams } from '../lib/http/schemas.ts';
import { problems } from './responses.ts';

const base64url = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[A-Za-z0-9_-]+=*$/, 'must be base64url');

const WebPushSubscription = z
  .strictObject({
    type: z.literal('webpush'),
    endpoint: z.string().max(2048).url(),
    keys: z.strictObject({ p256dh: base64url(128), auth: base64url(64) }),
    // Part of a browser's PushSubscription.toJSON(); accepted and not used.
    expirationTime: z.number().nullable().optional(),
  })
  .meta({ id: 'WebPushSubscription', description: "A browser's PushSubscription.toJSON() plus type" });

const GatewaySubscription = z
  .strictObject({
    type: z.literal('gateway'),
    url: z.string().max(2048).url().meta({ description: 'one of PUSH_GATEWAYS' }),
    appId: z.string().min(1).max(128),
    pushKey: z.string().min(1).max(512),
  })
  .meta({ id: 'GatewaySubscription', description: 'A Matrix Push Gateway API v1 pusher (e.g. Sygnal)' });

const PushSubscriptionBody = z.discriminatedUnion('type', [WebPushSubscription, GatewaySubscription]);

export const pushRoutes = [
  route({
    method: 'get',
    path: '/push/vapid-public-key',
    operationId: 'getVapidPublicKey',
    summary: "The server's VAPID public key, for PushManager.subscribe({applicationServerKey})",
    tags: ['Devices'],
    auth: true,
    responses: {
      200: { description: 'base64url', schema: z.object({ publicKey: z.string() }) },
      ...problems(401),
    },
    handler: async ({ deps }) => ({ status: 200, body: { publicKey: deps.push.vapidPublicKey } }),
  }),
  route({
    method: 'put',
    path: '/devices/{deviceId}/push',
    operationId: 'subscribeDevice',
    summary: 'Subscribe one of your devices to offline notifications',
    description:
      'Web Push endpoints must be https and may not resolve to loopback, private, link-local or unique-local addresses (checked now and at every send) unless PUSH_ALLOW_PRIVATE_ENDPOINTS is set; gateway URLs must be one of PUSH_GATEWAYS. Replaces the device’s subscription.',
    tags: ['Devices'],
    auth: true,
    params: DeviceParams,
    body: PushSubscriptionBody,
    responses: { 200: { description: 'The device', schema: Device }, ...problems(400, 401, 404, 413, 415) },
    handler: async ({ deps, session, params, body }) => ({
      status: 200,
      body: await subscribeDevice(deps.db, deps.config.push, session, params.deviceId, body),
    }),
  }),
  route({
    method: 'delete',
    path: '/devices/{deviceId}/push',
    operationId: 'unsubscribeDevice',
    summary: "End one of your devices' push subscription",
    tags: ['Devices'],
    auth: true,
    params: DeviceParams,
    responses: { 204: { description: 'No subscription any more' }, ...problems(401, 404) },
    handler: async ({ deps, session, params }) => {
      await unsubscribeDevice(deps.db, session, params.deviceId);
      return { status: 204 };
    },
  }),
  route({
    method: 'put',
    path: '/conversations/{conversationId}/notifications',
    operationId: 'setNotificationLevel',
    summary: 'Mute (`none`) or unmute (`all`) a conversation’s notifications for yourself',
    tags: ['Conversations'],
    auth: true,
    params: ConversationParams,
    body: z.strictObject({ level: z.enum(['all', 'none']) }),
    responses: {
      200: { description: 'The conversation, with your new level in `notifications`', schema: Conversation },
      ...problems(400, 401, 404, 413, 415),
    },
    handler: async ({ deps, session, params, body }) => ({
      status: 200,
      body: await setNotificationLevel(deps, session, params.conversationId, body.level),
    }),
  }),
];
