/**
 * One example per schema of the API documents, keyed by the schema's component name (or, for an
 * inline request body, by its operationId). buildOpenApi adds each as `examples` where the schema
 * declares none of its own; spec/routes/openapi-examples.spec.ts checks that every schema has one
 * and that each validates against its schema. The Postman collection's sample bodies are these.
 */

const at = '2026-11-25T08:45:23.123Z';
const later = '2026-11-25T08:47:05.611Z';

const userSummary = {
  id: '7',
  username: 'ann',
  displayName: 'Ann Smith',
  avatarUrl: 'https://avatars.example.com/ann.png',
};
const user = { ...userSummary, createdAt: at, updatedAt: later, presence: 'online', lastSeenAt: later };
const participant = { ...userSummary, role: 'owner' };
const peer = { id: '8', username: 'bob', displayName: 'Bob', avatarUrl: null, role: 'member' };
const message = {
  id: '1042',
  conversationId: '12',
  senderId: '7',
  body: 'Lunch at noon?',
  clientMessageId: 'f1c2a9e0-5b7d-4c1e-9a3f-2d8e6b4c0a11',
  createdAt: later,
  editedAt: null,
  ciphertext: null,
};
const conversation = {
  id: '12',
  type: 'group',
  title: 'Lunch',
  participants: [participant, peer],
  participantCount: 2,
  createdBy: '7',
  createdAt: at,
  updatedAt: later,
  lastMessage: message,
  unreadCount: 0,
  encrypted: false,
  epoch: 0,
  notifications: 'all',
};
const receipt = {
  conversationId: '12',
  userId: '8',
  lastReadMessageId: '1041',
  lastDeliveredMessageId: '1042',
};
const device = {
  id: '3',
  name: 'Firefox on a laptop',
  createdAt: at,
  lastSeenAt: later,
  current: true,
  push: null,
  keys: null,
  keyPackagesLeft: 0,
};
const eventCursor = '1042.3071';

/** Samples shared with the event schemas (lib/http/event-schemas.ts). */
export const SAMPLES = { at, user, userSummary, message, conversation, receipt, eventCursor } as const;

export const SCHEMA_EXAMPLES: Record<string, unknown> = {
  User: user,
  UserSummary: userSummary,
  Participant: participant,
  ParticipantWithPresence: { ...participant, presence: 'online', lastSeenAt: later },
  Message: message,
  Conversation: conversation,
  Receipt: receipt,
  Device: device,
  DeviceList: { devices: [device] },
  PublicDevice: { id: '3', keys: null, createdAt: at },
  PublicDeviceList: { devices: [{ id: '3', keys: null, createdAt: at }] },
  LoginDevice: { name: 'Firefox on a laptop' },
  Problem: {
    type: 'urn:parley:problem:validation-failed',
    title: 'Validation failed',
    status: 400,
    detail: 'The request body is not valid.',
    errors: [{ path: 'username', message: 'Too small: expected string to have >=3 characters' }],
  },
  LoginResult: { token: 'pl_7Yq2x…', expiresAt: '2026-12-25T08:45:23.123Z', deviceId: '3', user },
  UserPage: { users: [user], nextCursor: null },
  ConversationPage: { conversations: [conversation], nextCursor: null, eventCursor },
  ParticipantPage: {
    participants: [
      { ...participant, presence: 'online', lastSeenAt: later },
      { ...peer, presence: 'offline', lastSeenAt: at },
    ],
    nextCursor: null,
  },
  ConversationWithHistory: { conversation, messages: [message], hasMore: false, eventCursor },
  ReadResult: { ...receipt, unreadCount: 0 },
  ReceiptList: { receipts: [receipt] },
  MessageStatus: {
    conversationId: '12',
    messageId: '1042',
    status: 'delivered',
    recipientCount: 1,
    deliveredCount: 1,
    readCount: 0,
    deliveredTo: ['8'],
    readBy: [],
  },
  WebPushSubscription: {
    type: 'webpush',
    endpoint: 'https://push.example.net/wpush/v2/gAAAAABn',
    keys: {
      p256dh: 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM',
      auth: 'tBHItJI5svbpez7KI4CCXg',
    },
  },
  GatewaySubscription: {
    type: 'gateway',
    url: 'https://push-gateway.example.net/_matrix/push/v1/notify',
    appId: 'org.example.parley.ios',
    pushKey: 'a1b2c3d4e5f6',
  },
  DeviceKeys: {
    cipherSuite: 1,
    credential: 'AAEFYWxpY2U=',
    signatureKey: 'mJ6Vb2T1Q3bXcU0Jk6mB9oQx0v1cX4F0aG8s9wLZg0o=',
    createdAt: at,
  },
  Health: { status: 'ok' },
  OpenApiDocument: { openapi: '3.1.0', info: { title: 'Parley', version: '0.1.0' }, paths: {} },
};

/** Request bodies, by operationId: each one a request that succeeds on a server with this data. */
export const REQUEST_EXAMPLES: Record<string, unknown> = {
  register: { username: 'ann', password: 'correct horse battery', displayName: 'Ann Smith' },
  login: { username: 'ann', password: 'correct horse battery', device: { name: 'Firefox on a laptop' } },
  updateUser: { displayName: 'Ann S.', avatarUrl: 'https://avatars.example.com/ann.png' },
  renameDevice: { name: 'Work laptop' },
  createConversation: { participantIds: ['8'], title: 'Lunch' },
  renameConversation: { title: 'Friday lunch' },
  addParticipants: { userIds: ['9'] },
  changeParticipantRole: { role: 'admin' },
  sendMessage: { body: 'Lunch at noon?', clientMessageId: 'f1c2a9e0-5b7d-4c1e-9a3f-2d8e6b4c0a11' },
  sendMessageAlias: { body: 'Lunch at noon?' },
  editMessage: { body: 'Lunch at one?' },
  editMessageAlias: { body: 'Lunch at one?' },
  markRead: { messageId: '1042' },
  setNotificationLevel: { level: 'none' },
  subscribeDevice: {
    type: 'gateway',
    url: 'https://push-gateway.example.net/_matrix/push/v1/notify',
    appId: 'org.example.parley.ios',
    pushKey: 'a1b2c3d4e5f6',
  },
};
