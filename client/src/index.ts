/**
 * Parley's client SDK. One module per concern, so more can join (an end-to-end encryption client):
 * - api.ts: the REST client typed from the server's OpenAPI document (schema.d.ts, generated)
 * - events/: subscribe() and what it is made of — the two transports, backoff, the cursor store
 * - mls/: end-to-end encryption, an MLS (RFC 9420) client on ts-mls with Parley as its Delivery Service
 */
export { type ApiOptions, createApi, type ParleyApi, type TokenSource } from './api.ts';
export { type BackoffOptions, backoffDelay, retryAfterDelay } from './events/backoff.ts';
export { type CursorStore, memoryCursorStore } from './events/cursor-store.ts';
export { type StopReason, type SubscribeOptions, type Subscription, subscribe } from './events/subscribe.ts';
export type { ParleyEvent, Transport } from './events/types.ts';
export { type DecryptedMessage, E2eeDevice, type E2eeDeviceOptions } from './mls/e2ee-device.ts';
export { type GroupMember, MlsGroup, type PendingCommit } from './mls/group.ts';
export { createIdentity, type DeviceIdentity, KeyPackageStore } from './mls/identity.ts';
export { CIPHER_SUITE_ID, CIPHER_SUITE_NAME } from './mls/suite.ts';
export type { components, operations, paths } from './schema.d.ts';
