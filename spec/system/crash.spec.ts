import { expect } from 'chai';
import { type ChildServer, childServer } from '../helpers/child-server.ts';
import { signUp, type TestUser } from '../helpers/client.ts';

// A 201 means the message survives kill -9 right after the response: several clients send while
// the server process is SIGKILLed at a random moment, several times. CRASH_ROUNDS sets how many
// (npm run test:soak runs more).

// Two in CI: each restart is a cold `node --import tsx` start.
const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 2);
const CLIENTS = 3;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sender {
  user: TestUser;
  sent: number;
  /** A send whose answer never came (the server died): retried with the same clientMessageId. */
  inFlight: { clientMessageId: string; body: string } | null;
}

interface Poller {
  user: TestUser;
  cursor: string;
  /** message.created events seen, by message id. */
  seen: Map<string, number>;
}

async function send(
  url: string,
  s: Sender,
  conversationId: string,
  msg: { clientMessageId: string; body: string },
) {
  const res = await fetch(`${url}/conversations/${conversationId}/message`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${s.user.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(msg),
    signal: AbortSignal.timeout(10_000),
  });
  const body = await res.json();
  return { status: res.status, body };
}

/** Sends until the server dies or `until()` says stop; every 201/200 goes into `acked`. */
async function sendLoop(
  url: string,
  s: Sender,
  conversationId: string,
  acked: Map<string, string>,
  errors: string[],
  until: () => boolean,
) {
  for (let i = 0; i < 100_000 && !until(); i++) {
    const msg = { clientMessageId: `${s.user.id}-${++s.sent}`, body: `from ${s.user.username} #${s.sent}` };
    s.inFlight = msg;
    let res: Awaited<ReturnType<typeof send>>;
    try {
      res = await send(url, s, conversationId, msg);
    } catch {
      return; // the server is gone; this send's fate is decided after the restart
    }
    s.inFlight = null;
    if (res.status === 201 || res.status === 200) acked.set(res.body.id, msg.clientMessageId);
    else errors.push(`send answered ${res.status}: ${JSON.stringify(res.body)}`);
  }
}

/** Long-polls from the last processed cursor, through crashes and restarts, until stopped. */
async function pollLoop(url: string, p: Poller, errors: string[], stopped: () => boolean) {
  for (let i = 0; i < 100_000 && !stopped(); i++) {
    try {
      const res = await fetch(`${url}/events/poll?cursor=${p.cursor}&timeout=1`, {
        headers: { Authorization: `Bearer ${p.user.token}` },
        signal: AbortSignal.timeout(10_000),
      });
      if (res.status !== 200) {
        errors.push(`poll answered ${res.status}: ${await res.text()}`);
        await sleep(100);
        continue;
      }
      const body = (await res.json()) as { events: { type: string; data: { id: string } }[]; cursor: string };
      for (const e of body.events) {
        if (e.type === 'message.created') p.seen.set(e.data.id, (p.seen.get(e.data.id) ?? 0) + 1);
      }
      p.cursor = body.cursor;
    } catch {
      await sleep(100); // down: try again from the same cursor
    }
  }
}

/** Every message of the conversation, oldest first, following `before` pages. */
async function fullHistory(user: TestUser, conversationId: string) {
  const all: { id: string; clientMessageId: string | null }[] = [];
  let before = '';
  for (let page = 0; page < 10_000; page++) {
    const res = await user.api.get(`/conversations/${conversationId}?limit=200${before}`);
    expect(res.status, res.text).to.equal(200);
    all.unshift(...res.body.messages);
    if (!res.body.hasMore || res.body.messages.length === 0) break;
    before = `&before=${res.body.messages[0].id}`;
  }
  return all;
}

describe('crash safety (kill -9 while clients send)', () => {
  let server: ChildServer;
  before(async function () {
    this.timeout(60_000);
    server = await childServer();
    await server.start();
  });
  after(async function () {
    this.timeout(20_000);
    await server?.close();
  });

  it(`keeps every acknowledged message exactly once in history and in resumed event streams (${ROUNDS} kills)`, async function () {
    // A cold restart alone can take 10–20 s on a loaded machine.
    this.timeout(60_000 + ROUNDS * 90_000);
    const users = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) => signUp(server.url, `crash${i}`)),
    );
    const conv = await users[0]!.api.post('/conversations', {
      participantIds: users.slice(1).map((u) => u.id),
      title: 'crash test',
    });
    expect(conv.status).to.equal(201);
    const conversationId: string = conv.body.id;
    const senders: Sender[] = users.map((user) => ({ user, sent: 0, inFlight: null }));
    const pollers: Poller[] = await Promise.all(
      users.map(async (user) => ({
        user,
        cursor: (await user.api.get(`/events/poll?timeout=0`)).body.cursor as string,
        seen: new Map<string, number>(),
      })),
    );
    const acked = new Map<string, string>();
    const errors: string[] = [];
    let pollingDone = false;
    const polling = pollers.map((p) => pollLoop(server.url, p, errors, () => pollingDone));

    for (let round = 1; round <= ROUNDS; round++) {
      let killed = false;
      const sending = senders.map((s) =>
        sendLoop(server.url, s, conversationId, acked, errors, () => killed),
      );
      // A random moment: somewhere between a few and many hundreds of sends in.
      await sleep(200 + Math.random() * 1000);
      await server.kill();
      killed = true;
      await Promise.all(sending);
      await server.start();

      // A send cut off by the crash is retried with its clientMessageId: 200 if it had committed,
      // 201 if not — never a second copy.
      for (const s of senders) {
        if (!s.inFlight) continue;
        const res = await send(server.url, s, conversationId, s.inFlight);
        expect(res.status, JSON.stringify(res.body)).to.be.oneOf([200, 201]);
        acked.set(res.body.id, s.inFlight.clientMessageId);
        s.inFlight = null;
      }

      const history = await fullHistory(users[1]!, conversationId);
      const ids = history.map((m) => m.id);
      expect(new Set(ids).size, `round ${round}: duplicate ids in history`).to.equal(ids.length);
      const clientIds = history.map((m) => m.clientMessageId);
      expect(new Set(clientIds).size, `round ${round}: a clientMessageId stored twice`).to.equal(
        clientIds.length,
      );
      const missing = [...acked.keys()].filter((id) => !ids.includes(id));
      expect(missing, `round ${round}: acknowledged messages lost`).to.deep.equal([]);
      if (process.env.CRASH_VERBOSE)
        console.log(`      round ${round}: ${acked.size} acknowledged, all present once`);
    }
    expect(errors, 'unexpected answers').to.deep.equal([]);

    // Let the pollers catch up with everything, then stop them.
    const total = acked.size;
    for (let i = 0; i < 300 && pollers.some((p) => p.seen.size < total); i++) await sleep(100);
    pollingDone = true;
    await Promise.all(polling);
    for (const p of pollers) {
      const twice = [...p.seen].filter(([, n]) => n !== 1);
      expect(twice, `${p.user.username} saw events more than once`).to.deep.equal([]);
      const unseen = [...acked.keys()].filter((id) => !p.seen.has(id));
      expect(unseen, `${p.user.username} missed events`).to.deep.equal([]);
    }
    console.log(`      crash: ${ROUNDS} kills, ${total} acknowledged messages, none lost or doubled`);
  });
});
