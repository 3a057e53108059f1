import { expect } from 'chai';
import { poll, send } from '../helpers/chat.ts';
import { type ChildServer, useTwoNodes } from '../helpers/child-server.ts';
import { Api, signUp, type TestUser } from '../helpers/client.ts';
import { onPostgres, pgQuery } from '../helpers/postgres.ts';
import { type SseFrame, SseReader } from '../helpers/sse.ts';

/** The same user, talking to another node with the same token. */
const on = (node: ChildServer, user: TestUser): TestUser => ({ ...user, api: new Api(node.url, user.token) });

const isMessage = (f: SseFrame) => f.event === 'message.created';
const bodyOf = (f: SseFrame): string => JSON.parse(f.data!).data.body;

/** Waits (bounded) until `check` holds, re-checking as soon as the last check answered. */
async function until(check: () => Promise<boolean>, what: string, waitMs = 10_000): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

if (!onPostgres) {
  describe('two Parley nodes on one PostgreSQL', () => {
    it.skip(
      'runs only on PostgreSQL (PARLEY_TEST_DB=postgres; npm test does so when 127.0.0.1:5432 answers)',
    );
  });
} else {
  describe('two Parley nodes on one PostgreSQL', function () {
    this.timeout(120_000);
    // Not started: the first spec starts both at the same moment.
    const { a, b, schema } = useTwoNodes(
      'parley_cluster',
      { PRESENCE_ENABLED: 'false', DELIVERY_FLUSH_MS: '0' },
      { start: false },
    );
    let alice: TestUser;
    let bob: TestUser;
    let conversationId: string;

    it('serves from both nodes started at the same moment on an empty schema, migrating once', async () => {
      await Promise.all([a.start(), b.start()]);
      const applied = await pgQuery(`SELECT name FROM "${schema}".knex_migrations`);
      const names = applied.map((r) => r.name);
      expect(names).to.have.length.above(0);
      expect(new Set(names).size).to.equal(names.length);
      for (const node of [a, b]) expect((await fetch(`${node.url}/health`)).status).to.equal(200);

      alice = await signUp(a.url, 'alice');
      bob = await signUp(b.url, 'bob');
      const res = await alice.api.post('/conversations', { participantIds: [bob.id] });
      expect(res.status).to.equal(201);
      conversationId = res.body.id;
    });

    it('streams to a client on node A, within 1 s, a message posted on node B', async () => {
      const stream = await SseReader.live(a.url, bob.token);
      try {
        await send(on(b, alice), conversationId, 'from B to a stream on A');
        // From the commit (the POST has answered) to the frame on the other node.
        const started = Date.now();
        const frame = await stream.waitFor(isMessage, 1000);
        expect(bodyOf(frame)).to.equal('from B to a stream on A');
        expect(Date.now() - started).to.be.below(1000);
      } finally {
        stream.close();
      }
    });

    it('wakes a long-poll on node B for a message posted on node A', async () => {
      const { body: now } = await poll(on(b, bob), { timeout: 0 });
      const started = Date.now();
      const waiting = poll(on(b, bob), { cursor: now.cursor, timeout: 20 });
      await send(alice, conversationId, 'from A to a poll on B');
      const { status, body } = await waiting;
      expect(status).to.equal(200);
      expect(body.events.map((e: { data: { body: string } }) => e.data.body)).to.deep.equal([
        'from A to a poll on B',
      ]);
      expect(Date.now() - started).to.be.below(5000);
    });

    it('resumes on node B from a cursor received on node A, losing and repeating nothing', async () => {
      const onA = await SseReader.live(a.url, bob.token);
      await send(alice, conversationId, 'seen on A');
      const seen = await onA.waitFor(isMessage);
      onA.close();
      await send(on(b, alice), conversationId, 'missed 1');
      await send(alice, conversationId, 'missed 2');

      const onB = await SseReader.open(b.url, '/events', bob.token, { 'Last-Event-ID': seen.id! });
      try {
        const resumed = [await onB.nextFrame(isMessage), await onB.nextFrame(isMessage)];
        expect(resumed.map(bodyOf)).to.deep.equal(['missed 1', 'missed 2']);
      } finally {
        onB.close();
      }
      const { body } = await poll(on(b, bob), { cursor: seen.id!, timeout: 0 });
      expect(body.events.map((e: { data: { body: string } }) => e.data.body)).to.deep.equal([
        'missed 1',
        'missed 2',
      ]);
    });

    it('gives concurrent senders on both nodes one order per conversation, the same for everyone', async () => {
      const carol = await signUp(a.url, 'carol');
      const group = await alice.api.post('/conversations', {
        participantIds: [bob.id, carol.id],
        title: 'race',
      });
      expect(group.status).to.equal(201);
      const id = group.body.id as string;
      const { body: start } = await poll(on(b, carol), { timeout: 0 });
      const bobOnA = await SseReader.live(a.url, bob.token);
      const carolOnB = await SseReader.live(b.url, carol.token);
      const PER_SENDER = 15;
      try {
        await Promise.all([
          ...Array.from({ length: PER_SENDER }, (_, i) => send(alice, id, `alice@A ${i}`)),
          ...Array.from({ length: PER_SENDER }, (_, i) => send(on(b, bob), id, `bob@B ${i}`)),
          ...Array.from({ length: PER_SENDER }, (_, i) => send(on(a, carol), id, `carol@A ${i}`)),
          ...Array.from({ length: PER_SENDER }, (_, i) => send(on(b, carol), id, `carol@B ${i}`)),
        ]);
        const total = PER_SENDER * 4;
        const streamed = async (reader: SseReader) => {
          const frames: SseFrame[] = [];
          while (frames.length < total) {
            const frame = await reader.waitFor(isMessage);
            if (JSON.parse(frame.data!).data.conversationId === id) frames.push(frame);
          }
          return frames.map((f) => JSON.parse(f.data!).data.id as string);
        };
        const history = async (node: ChildServer, user: TestUser) => {
          const res = await on(node, user).api.get(`/conversations/${id}?limit=200`);
          expect(res.status).to.equal(200);
          return res.body.messages.map((m: { id: string }) => m.id) as string[];
        };
        const polled = async () => {
          const ids: string[] = [];
          let cursor = start.cursor as string;
          while (ids.length < total) {
            const { body } = await poll(on(b, carol), { cursor, timeout: 5 });
            for (const e of body.events) if (e.type === 'message.created') ids.push(e.data.id);
            cursor = body.cursor;
          }
          return ids;
        };
        const [historyA, historyB, streamA, streamB, polledB] = await Promise.all([
          history(a, alice),
          history(b, carol),
          streamed(bobOnA),
          streamed(carolOnB),
          polled(),
        ]);
        expect(historyA).to.have.length(total);
        // Message ids grow in commit order, so history in id order is the commit order.
        expect([...historyA].sort((x, y) => Number(x) - Number(y))).to.deep.equal(historyA);
        expect(historyB).to.deep.equal(historyA);
        expect(streamA).to.deep.equal(historyA);
        expect(streamB).to.deep.equal(historyA);
        expect(polledB).to.deep.equal(historyA);
      } finally {
        bobOnA.close();
        carolOnB.close();
      }
    });

    it("closes a user's stream on node B when they log out on node A", async () => {
      const login = await new Api(a.url).post('/login', { username: bob.username, password: bob.password });
      expect(login.status).to.equal(200);
      const token = login.body.token as string;
      const stream = await SseReader.live(b.url, token);
      const logout = await new Api(a.url, token).post('/logout');
      expect(logout.status).to.equal(204);
      await Promise.race([
        stream.closed,
        new Promise((_, reject) => setTimeout(() => reject(new Error('the stream on B stayed open')), 5000)),
      ]);
      expect(stream.isEnded).to.equal(true);
      expect((await new Api(b.url, token).get('/conversations')).status).to.equal(401);
    });

    it('reconnects a node whose LISTEN connection is killed, and its clients miss nothing', async () => {
      const listenerOf = async (node: ChildServer) =>
        (
          await pgQuery<{ pid: number }>(
            'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
            [`parley-listen:${node.pid}`],
          )
        )[0]?.pid;
      const killed = await listenerOf(b);
      expect(killed, 'node B LISTEN connection').to.be.a('number');
      const stream = await SseReader.live(b.url, bob.token);
      const login = await new Api(a.url).post('/login', { username: bob.username, password: bob.password });
      const revoked = await SseReader.live(b.url, login.body.token);
      try {
        await pgQuery('SELECT pg_terminate_backend($1)', [killed]);
        // Logged out on A while B may not be listening: B still closes the stream.
        expect((await new Api(a.url, login.body.token).post('/logout')).status).to.equal(204);
        // Posted on A while B has no LISTEN connection: B catches up from the log once it is back.
        for (let i = 0; i < 5; i++) await send(alice, conversationId, `during the outage ${i}`);
        const during = [];
        for (let i = 0; i < 5; i++) during.push(bodyOf(await stream.waitFor(isMessage, 10_000)));
        expect(during).to.deep.equal([0, 1, 2, 3, 4].map((i) => `during the outage ${i}`));

        await until(async () => {
          const pid = await listenerOf(b);
          return pid !== undefined && pid !== killed;
        }, 'node B to listen again');
        await send(alice, conversationId, 'after the reconnect');
        const started = Date.now();
        expect(bodyOf(await stream.waitFor(isMessage, 1000))).to.equal('after the reconnect');
        expect(Date.now() - started).to.be.below(1000);
        expect(stream.buffered.filter(isMessage)).to.have.length(0);
        await Promise.race([
          revoked.closed,
          new Promise((_, reject) =>
            setTimeout(() => reject(new Error('the revoked stream stayed open')), 5000),
          ),
        ]);
      } finally {
        stream.close();
        revoked.close();
      }
    });
  });

  describe('presence across two Parley nodes', function () {
    this.timeout(120_000);
    const GRACE_MS = 300;
    const { a, b } = useTwoNodes('parley_presence', {
      PRESENCE_ENABLED: 'true',
      PRESENCE_GRACE_MS: String(GRACE_MS),
      DELIVERY_FLUSH_MS: '0',
    });

    const presenceOf = (stream: SseReader, userId: string) =>
      stream
        .nextFrame((f) => f.event === 'presence.updated' && JSON.parse(f.data!).data.userId === userId, 5000)
        .then((f) => JSON.parse(f.data!).data.presence as string);

    it('counts connections on every node: online while any node holds one, offline after the last', async () => {
      const watcher = await signUp(a.url, 'watch');
      const subject = await signUp(a.url, 'subj');
      await watcher.api.post('/conversations', { participantIds: [subject.id] });
      const stream = await SseReader.live(a.url, watcher.token);
      try {
        const onA = await SseReader.live(a.url, subject.token);
        expect(await presenceOf(stream, subject.id)).to.equal('online');
        const onB = await SseReader.live(b.url, subject.token);
        onA.close();
        await onA.closed;
        // Node A let go of its connection, but node B still holds one: no transition.
        await stream.expectSilence(GRACE_MS + 700);
        expect((await new Api(b.url, watcher.token).get(`/users/${subject.id}`)).body.presence).to.equal(
          'online',
        );
        onB.close();
        // The offline transition is decided on node B and reaches the watcher's stream on node A.
        expect(await presenceOf(stream, subject.id)).to.equal('offline');
        expect((await watcher.api.get(`/users/${subject.id}`)).body.presence).to.equal('offline');
      } finally {
        stream.close();
      }
    });
  });
}
