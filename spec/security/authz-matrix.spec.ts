import { createECDH, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { Api, signUp, type TestUser } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';

// Every operation of /openapi.json, called as four callers. The table below is the authority: an
// operation without an entry fails the spec, so a new route cannot ship without its access rules.

type Role = 'anonymous' | 'stranger' | 'participant' | 'owner';
const ROLES: readonly Role[] = ['anonymous', 'stranger', 'participant', 'owner'];

/** Fresh users and data for one operation, so destructive calls never affect another row. */
interface Fixture {
  owner: TestUser;
  participant: TestUser;
  stranger: TestUser;
  /** A group conversation created by the owner with the participant in it. */
  conversationId: string;
  /** A message the owner sent in it. */
  messageId: string;
  /** The device of the owner's session. */
  deviceId: string;
}

interface Expectation {
  /** Expected status per caller; callers run in the order anonymous, stranger, participant, owner. */
  status: Record<Role, number>;
  body?: (f: Fixture) => unknown;
  /** Raw bodies (uploads) with their content type. */
  raw?: { type: string; bytes: Uint8Array };
  query?: string;
  /** Set up more state before the calls (an avatar to fetch, …). */
  prepare?: (f: Fixture) => Promise<void>;
  /** The call spends its callers' sessions or accounts: give it users of its own. */
  freshUsers?: boolean;
}

const all = (status: number): Record<Role, number> => ({
  anonymous: status,
  stranger: status,
  participant: status,
  owner: status,
});
const as = (anonymous: number, stranger: number, participant: number, owner: number) => ({
  anonymous,
  stranger,
  participant,
  owner,
});

// A whole 1×1 PNG: avatars are parsed to their end (issue 12 item 15), a bare header is a 415.
const PNG = new Uint8Array(
  Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
    'base64',
  ),
);
let registered = 0;

/** A browser-shaped Web Push subscription on a local address (the matrix server allows those). */
const webPushSubscription = () => ({
  type: 'webpush',
  endpoint: 'http://127.0.0.1:9/push/authz',
  keys: {
    p256dh: createECDH('prime256v1').generateKeys().toString('base64url'),
    auth: randomBytes(16).toString('base64url'),
  },
});

const deviceKeys = () => ({
  cipherSuite: 1,
  credential: randomBytes(40).toString('base64'),
  signatureKey: randomBytes(32).toString('base64'),
});

/** The owner's device publishes keys (once: with shared users another operation may have). */
const giveOwnerDeviceKeys = async (f: Fixture) => {
  const res = await f.owner.api.put(`/devices/${f.deviceId}/keys`, deviceKeys());
  if (res.status !== 200 && res.status !== 409) throw new Error(`device keys: ${res.status} ${res.text}`);
};

/** The operation runs on a new encrypted conversation of the owner's with the participant. */
const useEncryptedConversation = async (f: Fixture) => {
  const res = await f.owner.api.post('/conversations', {
    participantIds: [f.participant.id],
    title: 'encrypted',
    encrypted: true,
  });
  if (res.status !== 201) throw new Error(`encrypted conversation: ${res.status} ${res.text}`);
  f.conversationId = res.body.id;
};

const subscribeOwnerDevice = async (f: Fixture) => {
  const res = await f.owner.api.put(`/devices/${f.deviceId}/push`, webPushSubscription());
  if (res.status !== 200) throw new Error(`push subscription failed: ${res.status} ${res.text}`);
};

const uploadAvatar = async (f: Fixture) => {
  const res = await f.owner.api.put(`/users/${f.owner.id}/avatar`, PNG, { 'Content-Type': 'image/png' });
  if (res.status !== 200) throw new Error(`avatar upload failed: ${res.status} ${res.text}`);
};

/** Keyed by operationId. Self-only user operations: 403 for others; conversations: 404 for outsiders. */
const EXPECTED: Record<string, Expectation> = {
  register: {
    status: all(201),
    body: () => ({ username: `authz_reg_${process.pid}_${++registered}`, password: 'long enough pass' }),
  },
  login: { status: all(200), body: (f) => ({ username: f.owner.username, password: f.owner.password }) },
  logout: { status: as(401, 204, 204, 204), freshUsers: true },
  listUsers: { status: as(401, 200, 200, 200) },
  getUser: { status: as(401, 200, 200, 200) },
  updateUser: { status: as(401, 403, 403, 200), body: () => ({ displayName: 'Renamed' }) },
  deleteUser: { status: as(401, 403, 403, 204), freshUsers: true },
  uploadAvatar: { status: as(401, 403, 403, 200), raw: { type: 'image/png', bytes: PNG } },
  getAvatar: { status: as(401, 200, 200, 200), prepare: uploadAvatar },
  deleteAvatar: { status: as(401, 403, 403, 204), prepare: uploadAvatar },
  createConversation: {
    status: as(401, 201, 201, 201),
    body: (f) => ({ participantIds: [f.participant.id, f.owner.id], title: 'another' }),
  },
  listConversations: { status: as(401, 200, 200, 200) },
  getConversation: { status: as(401, 404, 200, 200) },
  sendMessage: { status: as(401, 404, 201, 201), body: () => ({ body: 'hello' }) },
  sendMessageAlias: { status: as(401, 404, 201, 201), body: () => ({ body: 'hello' }) },
  deleteMessage: { status: as(401, 404, 403, 204) },
  deleteMessageAlias: { status: as(401, 404, 403, 204) },
  listParticipants: { status: as(401, 404, 200, 200) },
  addParticipants: { status: as(401, 404, 403, 200), body: (f) => ({ userIds: [f.stranger.id] }) },
  removeParticipant: { status: as(401, 404, 403, 204) },
  changeParticipantRole: { status: as(401, 404, 403, 200), body: () => ({ role: 'owner' }) },
  renameConversation: { status: as(401, 404, 403, 200), body: () => ({ title: 'Renamed' }) },
  editMessage: { status: as(401, 404, 403, 200), body: () => ({ body: 'edited' }) },
  editMessageAlias: { status: as(401, 404, 403, 200), body: () => ({ body: 'edited' }) },
  markRead: { status: as(401, 404, 200, 200), body: (f) => ({ messageId: f.messageId }) },
  announceTyping: { status: as(401, 404, 204, 204) },
  listReceipts: { status: as(401, 404, 200, 200) },
  getMessageStatus: { status: as(401, 404, 200, 200) },
  getMessageStatusAlias: { status: as(401, 404, 200, 200) },
  streamEvents: { status: as(401, 200, 200, 200) },
  pollEvents: { status: as(401, 200, 200, 200), query: '?timeout=0' },
  getMessage: { status: as(401, 404, 200, 200) },
  getMessageAlias: { status: as(401, 404, 200, 200) },
  listDevices: { status: as(401, 200, 200, 200) },
  getDevice: { status: as(401, 404, 404, 200) },
  renameDevice: { status: as(401, 404, 404, 200), body: () => ({ name: 'Renamed' }) },
  deleteDevice: { status: as(401, 404, 404, 204), freshUsers: true },
  listPublicDevices: { status: as(401, 200, 200, 200) },
  setDeviceKeys: { status: as(401, 404, 404, 200), body: deviceKeys, freshUsers: true },
  uploadKeyPackages: {
    status: as(401, 404, 404, 200),
    body: () => ({ keyPackages: [randomBytes(200).toString('base64')] }),
    prepare: giveOwnerDeviceKeys,
  },
  claimKeyPackages: { status: as(401, 200, 200, 200), body: (f) => ({ userIds: [f.owner.id] }) },
  // In an encrypted conversation of the owner's with the participant: adding is for owners and admins.
  postCommit: {
    status: as(401, 404, 403, 201),
    body: (f) => ({
      epoch: 0,
      commit: randomBytes(64).toString('base64'),
      welcome: randomBytes(64).toString('base64'),
      add: [f.participant.id],
    }),
    prepare: useEncryptedConversation,
  },
  getGroupInfo: { status: as(401, 404, 200, 200), prepare: useEncryptedConversation },
  getVapidPublicKey: { status: as(401, 200, 200, 200) },
  subscribeDevice: { status: as(401, 404, 404, 200), body: webPushSubscription },
  unsubscribeDevice: { status: as(401, 404, 404, 204), prepare: subscribeOwnerDevice },
  setNotificationLevel: { status: as(401, 404, 200, 200), body: () => ({ level: 'none' }) },
  createStreamTicket: { status: as(401, 200, 200, 200) },
  // Off unless METRICS_TOKEN is set; a session token is never the metrics token.
  metrics: { status: all(404) },
  index: { status: all(200) },
  asyncapi: { status: all(200) },
  postman: { status: all(200) },
  docsFile: { status: all(200) },
  health: { status: all(200) },
  openapi: { status: all(200) },
  docs: { status: all(200) },
};

interface Operation {
  method: string;
  path: string;
  operationId: string;
}

function operationsOf(doc: { paths: Record<string, Record<string, { operationId: string }>> }): Operation[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      operationId: op.operationId,
    })),
  );
}

/** Fills `{conversationId}`, `{userId}`, `{messageId}` with the owner's things. */
function concretePath(path: string, f: Fixture): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = {
      conversationId: f.conversationId,
      userId: f.owner.id,
      messageId: f.messageId,
      deviceId: f.deviceId,
      file: 'start.js',
    }[name];
    if (!value) throw new Error(`no fixture value for path parameter {${name}} in ${path}`);
    return value;
  });
}

type Users = Pick<Fixture, 'owner' | 'participant' | 'stranger'>;

async function makeUsers(url: string): Promise<Users> {
  const [owner, participant, stranger] = await Promise.all([
    signUp(url, 'owner'),
    signUp(url, 'member'),
    signUp(url, 'stranger'),
  ]);
  return { owner, participant, stranger };
}

/** A fresh conversation and message (and users unless given), so every operation starts clean. */
async function makeFixture(url: string, users?: Users): Promise<Fixture> {
  const { owner, participant, stranger } = users ?? (await makeUsers(url));
  const conv = await owner.api.post('/conversations', { participantIds: [participant.id], title: 'fixture' });
  if (conv.status !== 201) throw new Error(`fixture conversation: ${conv.status} ${conv.text}`);
  const msg = await owner.api.post(`/conversations/${conv.body.id}/message`, { body: 'owned' });
  if (msg.status !== 201) throw new Error(`fixture message: ${msg.status} ${msg.text}`);
  const devices = await owner.api.get('/devices');
  const current = devices.body.devices?.find((d: { current: boolean }) => d.current);
  if (!current) throw new Error(`fixture device: ${devices.status} ${devices.text}`);
  return {
    owner,
    participant,
    stranger,
    conversationId: conv.body.id,
    messageId: msg.body.id,
    deviceId: current.id,
  };
}

/** Calls one operation as one role and returns the status (a stream is closed once its headers arrive). */
async function call(url: string, op: Operation, exp: Expectation, f: Fixture, role: Role): Promise<number> {
  const headers: Record<string, string> = {};
  if (role !== 'anonymous') headers.Authorization = `Bearer ${f[role].token}`;
  let body: BodyInit | undefined;
  if (exp.raw) {
    headers['Content-Type'] = exp.raw.type;
    body = exp.raw.bytes as BodyInit;
  } else if (exp.body) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(exp.body(f));
  }
  if (op.operationId === 'streamEvents') headers.Accept = 'text/event-stream';
  const abort = new AbortController();
  const res = await fetch(url + concretePath(op.path, f) + (exp.query ?? ''), {
    method: op.method,
    headers,
    body,
    signal: abort.signal,
  });
  abort.abort();
  await res.body?.cancel().catch(() => {});
  return res.status;
}

describe('authorization matrix (every operation in /openapi.json × four callers)', () => {
  const t = useServer({ env: { PUSH_ALLOW_PRIVATE_ENDPOINTS: 'true' } });
  let operations: Operation[];

  before(async () => {
    const doc = await new Api(t.url).get('/openapi.json');
    operations = operationsOf(doc.body);
  });

  it('has an expectation for every operation', () => {
    const missing = operations.filter((op) => !EXPECTED[op.operationId]);
    expect(
      missing.map((op) => `${op.operationId} (${op.method} ${op.path})`),
      'operations with no entry in the authorization table',
    ).to.deep.equal([]);
    const stale = Object.keys(EXPECTED).filter((id) => !operations.some((op) => op.operationId === id));
    expect(stale, 'table entries for operations that no longer exist').to.deep.equal([]);
  });

  it('answers every operation with the exact status for each caller', async function () {
    this.timeout(120_000);
    const failures: string[] = [];
    const shared = await makeUsers(t.url);
    for (const op of operations) {
      const exp = EXPECTED[op.operationId];
      if (!exp) continue;
      const f = await makeFixture(t.url, exp.freshUsers ? undefined : shared);
      await exp.prepare?.(f);
      for (const role of ROLES) {
        const status = await call(t.url, op, exp, f, role);
        if (status !== exp.status[role]) {
          failures.push(
            `${op.operationId} ${op.method} ${op.path} as ${role}: ${status}, expected ${exp.status[role]}`,
          );
        }
      }
    }
    expect(failures).to.deep.equal([]);
  });
});

describe('event streams and other users’ data', () => {
  const t = useServer();

  it('never delivers another user’s conversations, messages or account events', async () => {
    const f = await makeFixture(t.url);
    const start = await f.stranger.api.get('/events/poll?timeout=0');
    const participantStart = await f.participant.api.get('/events/poll?timeout=0');
    // An SSE stream too, open before anything happens.
    const sse = await openSse(t.url, f.stranger.token);

    const conv = await f.owner.api.post('/conversations', {
      participantIds: [f.participant.id],
      title: 'secret',
    });
    await f.owner.api.post(`/conversations/${conv.body.id}/message`, { body: 'secret body' });
    await f.participant.api.post(`/conversations/${f.conversationId}/message`, { body: 'secret reply' });
    await f.owner.api.put(`/users/${f.owner.id}`, { displayName: 'Secret Name' });
    // A message of the stranger's own marks the end of everything above in the stranger's stream.
    const own = await f.stranger.api.post('/conversations', { participantIds: [f.owner.id], title: 'own' });
    const marker = await f.stranger.api.post(`/conversations/${own.body.id}/message`, { body: 'marker' });

    const polled = await f.stranger.api.get(`/events/poll?timeout=0&cursor=${start.body.cursor}`);
    const streamed = await sse.readUntil((text) => text.includes(`"id":"${marker.body.id}"`));
    sse.close();
    for (const text of [polled.text, streamed]) {
      expect(text).to.not.include('secret');
      expect(text).to.not.include(`"conversationId":"${f.conversationId}"`);
      expect(text).to.not.include(`"conversationId":"${conv.body.id}"`);
      expect(text).to.include('marker');
    }
    // The participant does see them: the absence above is not an empty feed.
    const seen = await f.participant.api.get(`/events/poll?timeout=0&cursor=${participantStart.body.cursor}`);
    expect(seen.text).to.include('secret body').and.include('secret reply');
  });
});

/** A raw SSE reader over fetch, resolved once the stream is live. */
async function openSse(url: string, token: string) {
  const abort = new AbortController();
  const res = await fetch(`${url}/events`, {
    headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' },
    signal: abort.signal,
  });
  if (!res.body) throw new Error('no stream');
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const readUntil = async (done: (text: string) => boolean, timeoutMs = 5000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    while (!done(text)) {
      const left = deadline - Date.now();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`stream did not show what was awaited; got:\n${text}`)),
          left,
        );
      });
      const chunk = await Promise.race([reader.read(), timedOut]).finally(() => clearTimeout(timer));
      if (chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
    }
    return text;
  };
  await readUntil((t) => t.includes(': live'));
  return {
    readUntil,
    close: () => {
      abort.abort();
      reader.cancel().catch(() => {});
    },
  };
}
