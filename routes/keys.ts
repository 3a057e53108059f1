import { z } from 'zod';
import { getDevice } from '../lib/chat/devices.ts';
import {
  claimKeyPackages,
  KEY_PACKAGES_LOW,
  MAX_KEY_PACKAGES_PER_DEVICE,
  setDeviceKeys,
  uploadKeyPackages,
} from '../lib/e2ee/key-directory.ts';
import { route } from '../lib/http/route.ts';
import { base64Bytes, cipherSuite, Device, DeviceParams } from '../lib/http/schemas.ts';
import { problems } from './responses.ts';

/** A key package's most bytes: a few hundred for the classic suites, room for post-quantum ones. */
const KEY_PACKAGE_BYTES = 16 * 1024;
const KEY_PACKAGES_PER_UPLOAD = 100;
/** Users one claim may name; each costs a point of KEY_PACKAGE_CLAIMS_PER_WINDOW. */
const CLAIM_USERS = 100;

const keyPackage = base64Bytes(KEY_PACKAGE_BYTES, 'an MLS KeyPackage (RFC 9420 §10, as an MLSMessage)');

const KeyPackageCount = z
  .object({ keyPackagesLeft: z.number().int().min(0) })
  .meta({ id: 'KeyPackageCount', example: { keyPackagesLeft: 100 } });

const ClaimedKeyPackages = z
  .object({
    keyPackages: z.array(
      z.object({
        userId: z.string(),
        deviceId: z.string(),
        keyPackage: z.string().meta({ description: 'base64' }),
      }),
    ),
  })
  .meta({
    id: 'ClaimedKeyPackages',
    example: { keyPackages: [{ userId: '8', deviceId: 'q2Vz0Xb1LmA4dP7sKf9wJg', keyPackage: 'AAEABQAB…' }] },
  });

export const keyRoutes = [
  route({
    method: 'put',
    path: '/devices/{deviceId}/keys',
    operationId: 'setDeviceKeys',
    summary: "Publish a device's end-to-end encryption keys",
    description:
      'Once per device (409 `device-keys-set` after that: a new key is a new device — log in again without a device id). Own devices only (404 otherwise). The keys are public: any signed-in user sees them in GET /users/{userId}/devices. When the device publishes its keys, everyone who shares an encrypted conversation with you gets `device.added`.',
    tags: ['End-to-end encryption'],
    auth: true,
    params: DeviceParams,
    body: z
      .strictObject({
        cipherSuite,
        credential: base64Bytes(16 * 1024, 'the MLS Credential (TLS-serialised)'),
        signatureKey: base64Bytes(4 * 1024, 'the MLS signature public key'),
      })
      .meta({
        example: {
          cipherSuite: 1,
          credential: 'AAEFYWxpY2U=',
          signatureKey: 'mJ6Vb2T1Q3bXcU0Jk6mB9oQx0v1cX4F0aG8s9wLZg0o=',
        },
      }),
    responses: {
      200: { description: 'The device with its keys', schema: Device },
      ...problems(400, 401, 404, 409, 413, 415),
    },
    handler: async ({ deps, session, params, body }) => {
      await setDeviceKeys(deps, session, params.deviceId, body);
      return { status: 200, body: await getDevice(deps.db, session, params.deviceId) };
    },
  }),
  route({
    method: 'post',
    path: '/devices/{deviceId}/key-packages',
    operationId: 'uploadKeyPackages',
    summary: 'Upload key packages for one of your devices',
    description: `Up to ${KEY_PACKAGES_PER_UPLOAD} one-time key packages per call (each at most ${KEY_PACKAGE_BYTES / 1024} KiB decoded), and optionally a last-resort one that replaces the device's previous one. Each one-time package is handed out once by POST /key-packages/claim, then deleted; the last-resort one is handed out when none is left, as often as needed. Own devices only (404 otherwise), and only once the device has keys (409 \`device-keys-missing\`). A device keeps at most ${MAX_KEY_PACKAGES_PER_DEVICE} (409 \`key-packages-full\`). Under ${KEY_PACKAGES_LOW} left after a claim, the device's user gets \`key-packages.low\`. The body may be up to 3 MB.`,
    tags: ['End-to-end encryption'],
    auth: true,
    params: DeviceParams,
    body: z
      .strictObject({
        keyPackages: z.array(keyPackage).max(KEY_PACKAGES_PER_UPLOAD),
        lastResort: keyPackage.optional(),
      })
      .meta({
        example: { keyPackages: ['AAEABQABAAEgAAAA', 'AAEABQABAAEhAAAA'], lastResort: 'AAEABQABAAEiAAAA' },
      }),
    bodyLimit: '3mb',
    responses: {
      200: { description: 'How many one-time key packages the device has waiting', schema: KeyPackageCount },
      ...problems(400, 401, 404, 409, 413, 415),
    },
    handler: async ({ deps, session, params, body }) => ({
      status: 200,
      body: { keyPackagesLeft: await uploadKeyPackages(deps.db, session, params.deviceId, body) },
    }),
  }),
  route({
    method: 'post',
    path: '/key-packages/claim',
    operationId: 'claimKeyPackages',
    summary: 'Claim key packages to add users to an encrypted group',
    description: `One key package for every device with keys of each named user (up to ${CLAIM_USERS} users; the calling device is skipped, so you may name yourself to add your other devices). A one-time package is handed out once, ever — concurrent claims on any number of nodes never get the same one — and when a device has none left its last-resort package is handed out instead; a device with neither is left out. Unknown or deleted users → 400 naming them. Rate-limited per caller: KEY_PACKAGE_CLAIMS_PER_WINDOW named users per KEY_PACKAGE_CLAIM_WINDOW_SECONDS (default 100 per 60 s; 429 with Retry-After beyond), because draining someone's key packages is a known attack.`,
    tags: ['End-to-end encryption'],
    auth: true,
    body: z
      .strictObject({ userIds: z.array(z.string().max(32)).min(1).max(CLAIM_USERS) })
      .meta({ example: { userIds: ['8', '9'] } }),
    responses: {
      200: { description: 'The key packages, one per device', schema: ClaimedKeyPackages },
      ...problems(400, 401, 413, 415, 429),
    },
    handler: async ({ deps, session, body }) => {
      await deps.rateLimits.keyPackageClaims.take(session.userId, new Set(body.userIds).size);
      return { status: 200, body: { keyPackages: await claimKeyPackages(deps, session, body.userIds) } };
    },
  }),
];
