import { REQUEST_EXAMPLES } from './examples.ts';

/**
 * A Postman collection (v2.1) generated from the OpenAPI document, that runs as imported: the
 * collection's bearer auth uses `{{token}}`, which the login request stores; `baseUrl` is the server
 * the collection came from; the first requests register two fresh users (names made unique by a
 * pre-request script) so every later request has real ids to work on. Requests run in FLOW's order,
 * then every other operation, then FINALE; only the endless event stream is left out.
 */

type Operation = {
  operationId: string;
  summary?: string;
  requestBody?: { content: Record<string, unknown> };
};
type OpenApi = { paths: Record<string, Record<string, Operation>> };

/** The order a run needs: who exists before whom, and what signs the session out, last. */
const FLOW = [
  'health',
  'registerPeer',
  'register',
  'login',
  'getUser',
  'listUsers',
  'updateUser',
  'uploadAvatar',
  'getAvatar',
  'deleteAvatar',
  'listDevices',
  'getDevice',
  'renameDevice',
  'getVapidPublicKey',
  'subscribeDevice',
  'unsubscribeDevice',
  'createConversation',
  'createEncryptedConversation',
  'postCommit',
  'getGroupInfo',
  'listConversations',
  'getConversation',
  'renameConversation',
  'addParticipants',
  'changeParticipantRole',
  'sendMessage',
  'sendMessageAlias',
  'getMessage',
  'getMessageAlias',
  'editMessage',
  'editMessageAlias',
  'markRead',
  'listReceipts',
  'getMessageStatus',
  'getMessageStatusAlias',
  'announceTyping',
  'pollEvents',
  'setNotificationLevel',
  'deleteMessageAlias',
  'sendMessage',
  'deleteMessage',
  'removeParticipant',
];

/**
 * Last, after every other operation: what ends the session, the first device (the new login makes
 * another, which stays signed in) and the account.
 */
const FINALE = ['logout', 'login', 'deleteDevice', 'deleteUser'];

/** Left out: an endless stream (the long-poll covers the events). */
const SKIPPED = new Set(['streamEvents']);

/**
 * A 1×1 GIF whose bytes are all ASCII, so a raw text body carries it unchanged: Postman sends a
 * raw body as UTF-8, and a binary upload would need a file beside the collection.
 */
const TINY_GIF = String.fromCharCode(
  ...[0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 1, 0, 1, 0, 0, 0, 0], // GIF89a, 1×1, no colour table
  ...[0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 1, 0, 0x3b], // one image, then the trailer
);

/** Requests with a body that is not JSON: its content type and text. */
const RAW_BODIES: Record<string, { contentType: string; raw: string }> = {
  uploadAvatar: { contentType: 'image/gif', raw: TINY_GIF },
};

/** Requests with their own bearer token instead of the session's. */
const OWN_AUTH: Record<string, string> = { metrics: '{{metricsToken}}' };

/** Requests of the flow that run an operation a second time, with their own body: → the operation. */
const REPEATS: Record<string, string> = {
  registerPeer: 'register',
  createEncryptedConversation: 'createConversation',
};

/** Their names in the collection. */
const REPEAT_NAMES: Record<string, string> = {
  registerPeer: 'Register a second user (to talk to)',
  createEncryptedConversation: 'Create an end-to-end encrypted group',
};

/** Operations on the encrypted conversation rather than the plain one. */
const ON_ENCRYPTED = new Set(['postCommit', 'getGroupInfo']);

/** Path parameters → collection variables (a participant is the second user). */
const PATH_VARIABLE: Record<string, string> = {
  userId: 'userId',
  conversationId: 'conversationId',
  messageId: 'messageId',
  deviceId: 'deviceId',
  file: 'docsFile',
};

/** What each request stores for the ones after it. */
const CAPTURES: Record<string, string[]> = {
  registerPeer: ["pm.collectionVariables.set('peerId', pm.response.json().id);"],
  register: ["pm.collectionVariables.set('userId', pm.response.json().id);"],
  login: ["pm.collectionVariables.set('token', pm.response.json().token);"],
  listDevices: ["pm.collectionVariables.set('deviceId', pm.response.json().devices[0].id);"],
  createConversation: ["pm.collectionVariables.set('conversationId', pm.response.json().id);"],
  createEncryptedConversation: [
    "pm.collectionVariables.set('encryptedConversationId', pm.response.json().id);",
  ],
  sendMessage: ["pm.collectionVariables.set('messageId', pm.response.json().id);"],
  sendMessageAlias: ["pm.collectionVariables.set('messageId', pm.response.json().id);"],
};

/** Request bodies: the OpenAPI examples, with the ids and names of this run. */
const BODIES: Record<string, unknown> = {
  ...REQUEST_EXAMPLES,
  registerPeer: { username: '{{peerUsername}}', password: '{{password}}' },
  register: { username: '{{username}}', password: '{{password}}', displayName: 'Postman user' },
  login: { username: '{{username}}', password: '{{password}}', device: { name: 'Postman' } },
  createConversation: { participantIds: ['{{peerId}}'], title: 'Lunch' },
  createEncryptedConversation: { participantIds: ['{{peerId}}'], title: 'Secret plans', encrypted: true },
  // The group's first commit (epoch 0), adding nobody: opaque bytes to the server, as every MLS value.
  postCommit: { epoch: 0, commit: 'AAEAAgAAAAAD', groupInfo: 'AAEABAAAAAAE' },
  addParticipants: { userIds: ['{{peerId}}'] },
  markRead: { messageId: '{{messageId}}' },
  sendMessage: { body: 'Lunch at noon?' },
  // A public address (TEST-NET-3) written as an IP, so the subscription is taken without DNS; the
  // keys are shaped as a browser's. Nothing is pushed to it: nobody writes to this user.
  subscribeDevice: {
    type: 'webpush',
    endpoint: 'https://203.0.113.10/push/postman',
    keys: {
      p256dh: 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM',
      auth: 'tBHItJI5svbpez7KI4CCXg',
    },
  },
  // Opaque to the server (it stores and hands out MLS material, never parses it).
  setDeviceKeys: {
    cipherSuite: 1,
    credential: 'AAEABnBvc3RtYW4=',
    signatureKey: 'cG9zdG1hbi1zaWduYXR1cmUta2V5',
  },
  uploadKeyPackages: {
    keyPackages: ['cG9zdG1hbi1rZXktcGFja2FnZS0x'],
    lastResort: 'cG9zdG1hbi1sYXN0LXJlc29ydA==',
  },
  claimKeyPackages: { userIds: ['{{userId}}'] },
};

/** What a request's test accepts: below 400 — for metrics, a 404 while no metricsToken is set (they are off). */
const expectation = (id: string): string[] =>
  id === 'metrics'
    ? [
        "const metricsToken = pm.variables.get('metricsToken');",
        "pm.test(metricsToken ? 'succeeds' : 'is off (404) without a metricsToken', () =>",
        '  metricsToken ? pm.expect(pm.response.code).to.be.below(400) : pm.expect(pm.response.code).to.equal(404));',
      ]
    : ["pm.test('succeeds', () => pm.expect(pm.response.code).to.be.below(400));"];

/** Names made unique per run, so the collection runs again and again against one server. */
const SETUP_SCRIPT = [
  "if (!pm.collectionVariables.get('username')) {",
  '  const run = Date.now().toString(36);',
  "  pm.collectionVariables.set('username', 'postman_' + run);",
  "  pm.collectionVariables.set('peerUsername', 'postman_peer_' + run);",
  '}',
];

export function buildPostmanCollection(openapi: OpenApi, origin: string): object {
  const operations = new Map<string, { method: string; path: string; op: Operation }>();
  for (const [path, item] of Object.entries(openapi.paths)) {
    for (const [method, op] of Object.entries(item)) operations.set(op.operationId, { method, path, op });
  }
  const rest = [...operations.keys()].filter(
    (id) => !FLOW.includes(id) && !FINALE.includes(id) && !SKIPPED.has(id),
  );
  const order = [...FLOW, ...rest, ...FINALE];
  const items = order.flatMap((id) => {
    const found = operations.get(REPEATS[id] ?? id);
    if (!found) return [];
    const { method, op } = found;
    const participant = id === 'removeParticipant' || id === 'changeParticipantRole';
    const path = found.path.replace(/\{(\w+)\}/g, (_, name: string) =>
      participant && name === 'userId'
        ? '{{peerId}}'
        : ON_ENCRYPTED.has(id) && name === 'conversationId'
          ? '{{encryptedConversationId}}'
          : `{{${PATH_VARIABLE[name] ?? name}}}`,
    );
    const segments = path.split('/').filter(Boolean);
    const body = BODIES[id];
    const rawBody = RAW_BODIES[id];
    const isJson = op.requestBody?.content['application/json'] !== undefined;
    const ownToken = OWN_AUTH[id];
    return [
      {
        name: REPEAT_NAMES[id] ?? op.summary ?? id,
        request: {
          method: method.toUpperCase(),
          // A request's own auth goes in the request (v2.1); the others inherit the collection's.
          ...(id === 'register' || id === 'registerPeer' || id === 'login' || id === 'health'
            ? { auth: { type: 'noauth' } }
            : {}),
          ...(ownToken
            ? { auth: { type: 'bearer', bearer: [{ key: 'token', value: ownToken, type: 'string' }] } }
            : {}),
          url: { raw: `{{baseUrl}}${path}`, host: ['{{baseUrl}}'], path: segments },
          header: rawBody
            ? [{ key: 'Content-Type', value: rawBody.contentType }]
            : isJson
              ? [{ key: 'Content-Type', value: 'application/json' }]
              : [],
          ...(rawBody ? { body: { mode: 'raw', raw: rawBody.raw } } : {}),
          ...(isJson && body !== undefined
            ? {
                body: {
                  mode: 'raw',
                  raw: JSON.stringify(body, null, 2),
                  options: { raw: { language: 'json' } },
                },
              }
            : {}),
        },
        event: [
          {
            listen: 'test',
            script: {
              type: 'text/javascript',
              exec: [...expectation(id), ...(CAPTURES[id] ?? [])],
            },
          },
        ],
      },
    ];
  });
  return {
    info: {
      name: 'Parley',
      description:
        'Generated from /openapi.json. Run it as it is: it registers two users, logs in and stores the token.',
      schema: 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json',
    },
    auth: { type: 'bearer', bearer: [{ key: 'token', value: '{{token}}', type: 'string' }] },
    event: [{ listen: 'prerequest', script: { type: 'text/javascript', exec: SETUP_SCRIPT } }],
    variable: [
      { key: 'baseUrl', value: origin },
      { key: 'token', value: '' },
      { key: 'username', value: '' },
      { key: 'peerUsername', value: '' },
      { key: 'password', value: 'correct horse battery' },
      { key: 'userId', value: '' },
      { key: 'peerId', value: '' },
      { key: 'deviceId', value: '' },
      { key: 'conversationId', value: '' },
      { key: 'encryptedConversationId', value: '' },
      { key: 'messageId', value: '' },
      { key: 'docsFile', value: 'swagger-ui.css' },
      { key: 'metricsToken', value: '' },
    ],
    item: items,
  };
}
