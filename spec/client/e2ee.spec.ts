import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  createApi,
  memoryCursorStore,
  type ParleyEvent,
  type Subscription,
  subscribe,
  type Transport,
} from '../../client/src/index.ts';
import { type DecryptedMessage, E2eeDevice } from '../../client/src/mls/e2ee-device.ts';
import type { TestUser } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { newDevice, pushSettled } from '../helpers/push.ts';
import { PushReceiver } from '../helpers/push-receiver.ts';
import { Timeline } from '../helpers/timeline.ts';

/** A device running the SDK's E2EE client on its own event subscription. */
interface RunningDevice {
  name: string;
  user: TestUser;
  device: E2eeDevice;
  transport: Transport;
  messages: Timeline<DecryptedMessage>;
  events: Timeline<ParleyEvent>;
  cursor: { readonly cursor: string | undefined };
  subscription: Subscription;
  /** Why the subscription stopped, if an error stopped it: shown when a wait fails. */
  stoppedBy?: unknown;
}

describe('End-to-end encrypted conversations through the client SDK (MLS on ts-mls)', function () {
  this.timeout(120_000);
  let receiver: PushReceiver;
  const running: RunningDevice[] = [];
  // Before the server closes (useServer's own after hook comes next): streams end cleanly.
  after(async () => {
    // Every close() settles: a stream that had delivered events once left its read waiting.
    await Promise.all(running.map((d) => d.subscription.close()));
    await receiver?.close();
  });
  const t = useServer({
    users: ['ann', 'ben', 'cat', 'dan'],
    env: { PUSH_ALLOW_PRIVATE_ENDPOINTS: 'true', KEY_PACKAGE_CLAIMS_PER_WINDOW: '0' },
  });
  const { ann, ben, cat, dan } = t.users;

  /** Every plaintext any spec sent: none may be found on the server afterwards. */
  const plaintexts: string[] = [];
  let lastCiphertext = '';
  const secret = (label: string) => {
    const text = `${label} ${randomBytes(9).toString('hex')}`;
    plaintexts.push(text);
    return text;
  };

  /** Logs `user` in as a new device, registers its MLS keys and subscribes it from now on. */
  async function start(user: TestUser, name: string, transport: Transport, keyPackages?: number) {
    const login = await newDevice(t.url, user, name);
    const api = createApi({ baseUrl: t.url, token: login.token });
    const messages = new Timeline<DecryptedMessage>();
    const events = new Timeline<ParleyEvent>();
    const device = await E2eeDevice.register({
      api,
      userId: user.id,
      deviceId: login.deviceId,
      onMessage: (m) => messages.push(m),
      ...(keyPackages !== undefined ? { keyPackages } : {}),
    });
    // State, then stream: the cursor of a read, so nothing after it is missed.
    const { data } = await api.GET('/conversations', {});
    const cursor = memoryCursorStore((data as { eventCursor: string }).eventCursor);
    const subscription = subscribe({
      api,
      transport,
      pollTimeoutSeconds: 5,
      cursorStore: cursor,
      onEvent: async (event) => {
        await device.handle(event);
        events.push(event);
      },
    });
    const d: RunningDevice = { name, user, device, transport, messages, events, cursor, subscription };
    subscription.done.catch((err) => {
      d.stoppedBy = err;
    });
    running.push(d);
    return d;
  }

  const texts = (d: RunningDevice, conversationId: string) =>
    d.messages.items
      .filter((m) => m.conversationId === conversationId && m.text !== undefined)
      .map((m) => m.text);

  const untilText = (d: RunningDevice, conversationId: string, text: string) =>
    d.messages.until(
      (ms) => ms.some((m) => m.conversationId === conversationId && m.text === text),
      `${d.name} reads "${text}"`,
      30_000,
    );

  const untilEpoch = (devices: RunningDevice[], conversationId: string, epoch: number) =>
    Promise.all(devices.map((d) => d.device.untilEpoch(conversationId, epoch)));

  /** Sends one message from each device and waits until every other device has decrypted it. */
  async function everyoneHearsEveryone(devices: RunningDevice[], conversationId: string, label: string) {
    const sent = new Map<RunningDevice, string>();
    for (const from of devices) {
      const text = secret(`${label} from ${from.name}`);
      sent.set(from, text);
      const message = await from.device.send(conversationId, text);
      lastCiphertext = message.ciphertext as string;
      expect(message.ciphertext, 'the Message carries the ciphertext').to.be.a('string');
      expect((message as unknown as { body: unknown }).body).to.equal(null);
    }
    for (const to of devices) {
      for (const [from, text] of sent)
        await untilText(to, conversationId, text).catch((err) => {
          throw new Error(
            `${to.name} did not read ${from.name}'s message (its subscription: ${to.subscription.transport ?? 'not connected'}, cursor ${to.cursor.cursor}, stopped by ${to.stoppedBy ?? 'nothing'}; last events ${JSON.stringify(to.events.items.slice(-3).map((e) => e.type))}): ${err.message}`,
          );
        });
    }
  }

  let ann1: RunningDevice;
  let ann2: RunningDevice;
  let ben1: RunningDevice;
  let ben2: RunningDevice;
  let cat1: RunningDevice;
  let conversationId: string;
  let phone: { endpoint: string };
  /** Ciphertexts sent before dan joined, to show he cannot read them. */
  const beforeDan: string[] = [];

  before(async () => {
    receiver = await PushReceiver.start();
    // Cat also has a phone that is never online, so every message is pushed to it.
    const catPhone = await newDevice(t.url, cat, 'phone');
    const sub = receiver.subscribe();
    phone = sub;
    const res = await catPhone.api.put(`/devices/${catPhone.deviceId}/push`, { type: 'webpush', ...sub });
    expect(res.status, res.text).to.equal(200);
    [ann1, ann2, ben1, ben2, cat1] = await Promise.all([
      start(ann, 'ann-laptop', 'sse'),
      // Few key packages: the group's claim brings it under the server's threshold.
      start(ann, 'ann-phone', 'poll', 10),
      start(ben, 'ben-laptop', 'poll'),
      start(ben, 'ben-phone', 'sse'),
      start(cat, 'cat-laptop', 'sse'),
    ]);
  });

  it('creates an encrypted group from claimed key packages; every device decrypts every other over SSE and long-poll', async () => {
    conversationId = await ann1.device.createConversation([ben.id, cat.id], 'plans');
    const conversation = await ann.api.get(`/conversations/${conversationId}`);
    expect(conversation.body.conversation).to.include({ encrypted: true });
    const all = [ann1, ann2, ben1, ben2, cat1];
    await untilEpoch(all, conversationId, 1);
    for (const d of all) {
      expect(
        d.device
          .group(conversationId)
          ?.members()
          .map((m) => m.deviceId),
      ).to.have.members(all.map((x) => x.device.deviceId));
    }
    await everyoneHearsEveryone(all, conversationId, 'hello');
    expect(new Set(all.map((d) => d.subscription.transport))).to.deep.equal(new Set(['sse', 'poll']));
    for (const d of all) {
      const own = d.messages.items.filter((m) => m.conversationId === conversationId && m.own);
      expect(own, `${d.name} sees its own message once`).to.have.length(1);
      expect(
        d.messages.items.filter((m) => m.error),
        `${d.name} failed to decrypt nothing`,
      ).to.deep.equal([]);
    }
  });

  it('tops up key packages when the server says they run low', async () => {
    await ann2.events.until(
      (es) => es.some((e) => e.type === 'key-packages.low'),
      'key-packages.low on ann-phone',
    );
    const { body } = await ann.api.get('/devices');
    const own = body.devices.find((d: { id: string }) => d.id === ann2.device.deviceId);
    expect(own.keyPackagesLeft).to.equal(10);
  });

  it('joins a new device of a member by external commit from the GroupInfo the server keeps', async () => {
    const all = [ann1, ann2, ben1, ben2, cat1];
    const before = ann1.device.epoch(conversationId) as number;
    const cat2 = await start(cat, 'cat-tablet', 'poll');
    const joined = await cat2.device.joinExternal(conversationId);
    expect(joined.epoch).to.equal(before + 1);
    await untilEpoch(all, conversationId, before + 1);
    await everyoneHearsEveryone([...all, cat2], conversationId, 'with the tablet');
    for (const text of texts(ann1, conversationId)) beforeDan.push(text ?? '');
  });

  it('a newly added member cannot decrypt what was sent before they joined', async () => {
    const dan1 = await start(dan, 'dan-laptop', 'sse');
    const history = await ann.api.get(`/conversations/${conversationId}?limit=200`);
    const earlier: string[] = history.body.messages.map((m: { ciphertext: string }) => m.ciphertext);
    expect(earlier.length).to.be.greaterThan(0);
    await ann2.device.addMembers(conversationId, [dan.id]);
    const epoch = ann2.device.epoch(conversationId) as number;
    const members = running.filter((d) => d.user !== dan && d.device.group(conversationId));
    await untilEpoch([...members, dan1], conversationId, epoch);
    const text = secret('welcome dan');
    await ann1.device.send(conversationId, text);
    await untilText(dan1, conversationId, text);
    const danText = secret('thanks from dan');
    await dan1.device.send(conversationId, danText);
    await Promise.all(members.map((d) => untilText(d, conversationId, danText)));
    for (const ciphertext of earlier) {
      let opened: string | undefined;
      try {
        opened = await dan1.device.decrypt(conversationId, ciphertext);
      } catch {}
      expect(opened, 'a message from before dan joined').to.equal(undefined);
    }
    expect(dan1.messages.items.map((m) => m.text)).to.deep.equal([text, danText]);
  });

  it("a removed member's devices cannot decrypt what is sent after the removal, and receive none of it", async () => {
    // Removing takes an owner or admin: Ann, who made the group, from her phone.
    await ann2.device.removeMembers(conversationId, [ben.id]);
    const epoch = ann2.device.epoch(conversationId) as number;
    const staying = running.filter((d) => d.user !== ben && d.device.group(conversationId));
    await untilEpoch(staying, conversationId, epoch);
    for (const d of staying) {
      expect(
        d.device
          .group(conversationId)
          ?.members()
          .map((m) => m.userId),
      ).not.to.include(ben.id);
    }
    const text = secret('ben is gone');
    const sent = await ann1.device.send(conversationId, text);
    await Promise.all(staying.filter((d) => d !== ann1).map((d) => untilText(d, conversationId, text)));
    for (const gone of [ben1, ben2]) {
      // Whatever the stream has not brought yet, a poll from its cursor would: nothing of the conversation.
      const { body } = await gone.user.api.get(`/events/poll?cursor=${gone.cursor.cursor}&timeout=0`);
      const later = [...gone.events.items, ...body.events].filter(
        (e: ParleyEvent) => e.type === 'message.created' && (e.data as { id: string }).id === sent.id,
      );
      expect(later, `${gone.name} receives the message`).to.deep.equal([]);
      let opened: string | undefined;
      try {
        opened = await gone.device.decrypt(conversationId, sent.ciphertext as string);
      } catch {}
      expect(opened, `${gone.name} decrypts the message`).to.equal(undefined);
    }
  });

  it('ten devices commit at the same epoch: exactly one wins, the others retry and all converge and keep decrypting', async () => {
    const users = await Promise.all([1, 2, 3, 4, 5].map(() => t.signUp('racer')));
    const devices = await Promise.all(
      users.flatMap((u, i) => [start(u, `racer${i}-a`, 'sse'), start(u, `racer${i}-b`, 'poll')]),
    );
    const [first] = devices as [RunningDevice];
    const raceId = await first.device.createConversation(
      users.slice(1).map((u) => u.id),
      'race',
    );
    await untilEpoch(devices, raceId, 1);
    const results = await Promise.all(devices.map((d) => d.device.update(raceId)));
    expect(
      results.filter((r) => r.conflicts === 0),
      'commits accepted at epoch 1',
    ).to.have.length(1);
    expect(
      results.filter((r) => r.conflicts > 0),
      'commits refused at epoch 1',
    ).to.have.length(9);
    expect(results.map((r) => r.epoch).sort((a, b) => a - b)).to.deep.equal([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    await untilEpoch(devices, raceId, 11);
    expect(devices.map((d) => d.device.epoch(raceId))).to.deep.equal(devices.map(() => 11));
    const { body } = await users[0]!.api.get(`/conversations/${raceId}`);
    expect(body.conversation.epoch).to.equal(11);
    await everyoneHearsEveryone(devices, raceId, 'after the race');
  });

  it('leaves no plaintext in the database or in any push payload', async () => {
    await pushSettled(t.server);
    const pushes = receiver.received(phone.endpoint);
    expect(pushes.length, 'pushes to the offline phone').to.be.greaterThan(0);
    const pushed = JSON.stringify(pushes.map((p) => p.payload));
    const { db } = t.server.parley.deps;
    const tables = await tableNames(db);
    const dump: string[] = [];
    for (const table of tables) dump.push(JSON.stringify(await db(table).select()));
    const all = dump.join('\n');
    expect(all, 'the tables hold the ciphertexts').to.include(lastCiphertext);
    for (const text of plaintexts) {
      expect(all.includes(text), `a table holds "${text}"`).to.equal(false);
      expect(pushed.includes(text), `a push holds "${text}"`).to.equal(false);
    }
    // On SQLite, the file itself (and its write-ahead log) too: no freed page keeps a plaintext.
    for (const file of ['parley.db', 'parley.db-wal']) {
      const path = join(t.server.dir, file);
      if (!existsSync(path)) continue;
      const bytes = readFileSync(path);
      for (const text of plaintexts) expect(bytes.includes(text), `${file} holds "${text}"`).to.equal(false);
    }
  });
});

async function tableNames(db: import('knex').Knex): Promise<string[]> {
  if (db.client.config.client === 'pg') {
    const { rows } = await db.raw('select tablename from pg_tables where schemaname = current_schema()');
    return rows.map((r: { tablename: string }) => r.tablename);
  }
  const rows = await db.raw("select name from sqlite_master where type = 'table'");
  return rows.map((r: { name: string }) => r.name);
}
