import { request } from 'node:http';
import { expect } from 'chai';
import { type ChildServer, childServer } from '../helpers/child-server.ts';
import { signUp, type TestUser } from '../helpers/client.ts';

// Mixed traffic against a server in a child process with many open SSE streams, bounded in time,
// loopback only. Every stream and every long-poll client must receive every message of its
// conversations exactly once; no request may fail; the server's RSS is reported at start and end.
// CI runs ~100 streams for a few seconds; `npm run test:soak` runs 1,000 streams for 60 s.

const STREAMS = Number(process.env.SOAK_STREAMS ?? 100);
const SECONDS = Number(process.env.SOAK_SECONDS ?? 8);
const STREAMS_PER_USER = 20;
const GROUP_SIZE = 5;
const POLLERS = Math.max(2, Math.round(STREAMS / 100));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes: number | null) => (bytes === null ? '?' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);

interface Stream {
  user: TestUser;
  seen: Map<string, number>;
  ended: boolean;
  close(): void;
}

/** One SSE connection over node:http (lighter than fetch at a thousand), resolved once live. */
function openStream(port: number, user: TestUser): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path: '/events',
      agent: false,
      headers: { Authorization: `Bearer ${user.token}`, Accept: 'text/event-stream' },
    });
    const stream: Stream = { user, seen: new Map(), ended: false, close: () => req.destroy() };
    req.on('error', (err) => {
      stream.ended = true;
      reject(err);
    });
    req.setTimeout(30_000, () => req.destroy(new Error('no stream within 30 s')));
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`stream answered ${res.statusCode}`));
        res.resume();
        return;
      }
      req.setTimeout(0);
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (frame === ': live') resolve(stream);
          if (!frame.includes('event: message.created')) continue;
          const data = frame.split('\n').find((l) => l.startsWith('data: '));
          const id = data ? (JSON.parse(data.slice(6)) as { data: { id: string } }).data.id : '?';
          stream.seen.set(id, (stream.seen.get(id) ?? 0) + 1);
        }
      });
      res.on('close', () => {
        stream.ended = true;
      });
    });
    req.end();
  });
}

async function call(url: string, user: TestUser, method: string, path: string, body?: unknown) {
  const res = await fetch(url + path, {
    method,
    headers: {
      Authorization: `Bearer ${user.token}`,
      ...(body ? { 'Content-Type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

describe(`soak: mixed traffic with ${STREAMS} open streams for ${SECONDS} s`, () => {
  let server: ChildServer;
  before(async function () {
    this.timeout(60_000);
    server = await childServer({ STREAMS_PER_USER: String(STREAMS_PER_USER) });
    await server.start();
  });
  after(async function () {
    this.timeout(20_000);
    await server?.close();
  });

  it('delivers every message to every stream and poller exactly once, with no errors', async function () {
    this.timeout(120_000 + SECONDS * 3000 + STREAMS * 100);
    const port = Number(new URL(server.url).port);
    const streamUsers = Math.ceil(STREAMS / STREAMS_PER_USER);
    const userCount = Math.ceil((streamUsers + POLLERS) / GROUP_SIZE) * GROUP_SIZE;
    const users: TestUser[] = [];
    for (let i = 0; i < userCount; i += 10) {
      const batch = Array.from({ length: Math.min(10, userCount - i) }, (_, j) =>
        signUp(server.url, `soak${i + j}`),
      );
      users.push(...(await Promise.all(batch)));
    }
    // Groups of five; a user's conversation is groups[index / 5].
    const groups: string[] = [];
    for (let g = 0; g < userCount; g += GROUP_SIZE) {
      const members = users.slice(g, g + GROUP_SIZE);
      const res = await call(server.url, members[0]!, 'POST', '/conversations', {
        participantIds: members.slice(1).map((u) => u.id),
        title: `group ${g / GROUP_SIZE}`,
      });
      expect(res.status).to.equal(201);
      groups.push(res.body.id);
    }
    const groupOf = (user: TestUser) => groups[Math.floor(users.indexOf(user) / GROUP_SIZE)]!;

    const streams: Stream[] = [];
    for (let i = 0; i < STREAMS; i += 50) {
      const batch = Array.from({ length: Math.min(50, STREAMS - i) }, (_, j) =>
        openStream(port, users[Math.floor((i + j) / STREAMS_PER_USER)]!),
      );
      streams.push(...(await Promise.all(batch)));
    }
    const pollUsers = users.slice(streamUsers, streamUsers + POLLERS);
    const rssStart = await server.rss();

    const errors: string[] = [];
    const acked = new Map<string, string>(); // message id → conversation id
    const pollSeen = new Map<TestUser, Map<string, number>>(pollUsers.map((u) => [u, new Map()]));
    const deadline = Date.now() + SECONDS * 1000;
    let counts = { sends: 0, reads: 0, polls: 0 };

    const sender = async (user: TestUser) => {
      for (let i = 0; i < 1_000_000 && Date.now() < deadline; i++) {
        const res = await call(server.url, user, 'POST', `/conversations/${groupOf(user)}/message`, {
          body: `soak ${user.username} ${i}`,
          clientMessageId: `${user.id}-${i}`,
        });
        counts.sends++;
        if (res.status !== 201) errors.push(`send ${res.status}`);
        else acked.set(res.body.id, res.body.conversationId);
        await sleep(20 + Math.random() * 60);
      }
    };
    const reader = async (user: TestUser) => {
      for (let i = 0; i < 1_000_000 && Date.now() < deadline; i++) {
        const path = i % 2 ? '/conversations' : `/conversations/${groupOf(user)}?limit=20`;
        const res = await call(server.url, user, 'GET', path);
        counts.reads++;
        if (res.status !== 200) errors.push(`read ${path} ${res.status}`);
        await sleep(50 + Math.random() * 100);
      }
    };
    // Each poller's starting cursor is taken before any traffic, like the streams above.
    const startCursors = new Map<TestUser, string>();
    for (const u of pollUsers) {
      startCursors.set(u, (await call(server.url, u, 'GET', '/events/poll?timeout=0')).body.cursor);
    }
    const poller = async (user: TestUser) => {
      const seen = pollSeen.get(user)!;
      let cursor = startCursors.get(user)!;
      // Runs past the deadline until it has caught up (bounded by the drain below).
      for (let i = 0; i < 1_000_000 && !draining.done; i++) {
        const res = await call(server.url, user, 'GET', `/events/poll?cursor=${cursor}&timeout=1`);
        counts.polls++;
        if (res.status !== 200) {
          errors.push(`poll ${res.status}`);
          break;
        }
        for (const e of res.body.events as { type: string; data: { id: string } }[]) {
          if (e.type === 'message.created') seen.set(e.data.id, (seen.get(e.data.id) ?? 0) + 1);
        }
        cursor = res.body.cursor;
      }
    };
    const draining = { done: false };
    // One sender per group and a few readers: every stream has traffic in its conversation.
    const senders = groups.map((_, g) => sender(users[g * GROUP_SIZE]!));
    const readers = users.slice(0, Math.max(2, groups.length / 2)).map((u) => reader(u));
    const polling = pollUsers.map((u) => poller(u));
    await Promise.all([...senders, ...readers]);

    // Everything acknowledged reaches every subscriber of its conversation (bounded wait).
    const expectedFor = (user: TestUser) =>
      [...acked].filter(([, conv]) => conv === groupOf(user)).map(([id]) => id);
    const caughtUp = () =>
      streams.every((s) => s.seen.size >= expectedFor(s.user).length) &&
      pollUsers.every((u) => pollSeen.get(u)!.size >= expectedFor(u).length);
    for (let i = 0; i < 300 && !caughtUp(); i++) await sleep(100);
    draining.done = true;
    await Promise.all(polling);
    const rssEnd = await server.rss();

    const problems: string[] = [...errors];
    for (const s of streams) {
      if (s.ended) problems.push(`${s.user.username}: stream ended`);
      const expected = expectedFor(s.user);
      const lost = expected.filter((id) => !s.seen.has(id)).length;
      const doubled = [...s.seen.values()].filter((n) => n > 1).length;
      if (lost || doubled)
        problems.push(`${s.user.username} stream: of ${expected.length}, ${lost} lost, ${doubled} doubled`);
    }
    for (const u of pollUsers) {
      const expected = expectedFor(u);
      const seen = pollSeen.get(u)!;
      const lost = expected.filter((id) => !seen.has(id)).length;
      const doubled = [...seen.values()].filter((n) => n > 1).length;
      if (lost || doubled)
        problems.push(`${u.username} poll: of ${expected.length}, ${lost} lost, ${doubled} doubled`);
    }
    for (const s of streams) s.close();
    const delivered = streams.reduce((n, s) => n + s.seen.size, 0);
    console.log(
      `      soak: ${STREAMS} streams, ${POLLERS} pollers, ${SECONDS} s: ${counts.sends} sends, ${counts.reads} reads, ${counts.polls} polls, ${delivered} stream deliveries; RSS ${mb(rssStart)} at start, ${mb(rssEnd)} at end`,
    );
    expect(problems.slice(0, 20), `${problems.length} problems`).to.deep.equal([]);
    expect(acked.size).to.be.above(0);
    if (rssStart !== null && rssEnd !== null) {
      // Flat, generously: no more than 50% + 64 MiB over the start (a leak per event grows far faster).
      expect(rssEnd).to.be.below(rssStart * 1.5 + 64 * 1024 * 1024);
    }
    counts = { sends: 0, reads: 0, polls: 0 };
  });
});
