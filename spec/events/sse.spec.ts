import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { expect } from 'chai';
import { direct, poll, send } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';
import { onPostgres } from '../helpers/postgres.ts';
import { BearerEventSource, type ParleyEvent, SseReader } from '../helpers/sse.ts';

const HEARTBEAT_MS = 400;

describe('GET /events (Server-Sent Events)', () => {
  // No push dispatcher: its background rounds (transactions) would land in the statements counted below.
  const t = useServer({
    users: ['alice', 'bob'],
    env: { SSE_HEARTBEAT_MS: String(HEARTBEAT_MS), PUSH_ENABLED: 'false' },
  });
  const { alice, bob } = t.users;
  let conversationId: string;
  const open: { close(): void }[] = [];
  const track = <T extends { close(): void }>(c: T): T => {
    open.push(c);
    return c;
  };

  before(async () => {
    conversationId = await direct(alice, bob);
  });
  afterEach(() => {
    for (const c of open.splice(0)) c.close();
  });

  it('answers with event-stream headers, no compression, and a retry hint first', async () => {
    const reader = track(
      await SseReader.open(t.url, '/events', bob.token, { 'Accept-Encoding': 'gzip, deflate, br' }),
    );
    expect(reader.status).to.equal(200);
    expect(reader.headers.get('content-type')).to.match(/^text\/event-stream/);
    expect(reader.headers.get('cache-control')).to.equal('no-cache');
    expect(reader.headers.get('x-accel-buffering')).to.equal('no');
    expect(reader.headers.get('content-encoding')).to.equal(null);
    const first = await reader.nextFrame();
    expect(first.retry).to.be.a('number').above(0);
  });

  it('opens from now with the log head read in one statement: no transaction on SQLite', async () => {
    // A knex transaction around that one read cost every stream opening a transaction-bound knex
    // instance, ~20 KB of short-lived heap (the streams bench's RSS per stream: issue 16).
    const transactions: string[] = [];
    const onQuery = (q: { sql: string }) => {
      if (/^(begin|start transaction)/i.test(q.sql)) transactions.push(q.sql);
    };
    const { db } = t.server.parley.deps;
    db.on('query', onQuery);
    try {
      track(await SseReader.live(t.url, bob.token));
    } finally {
      db.off('query', onQuery);
    }
    // PostgreSQL reads it in a REPEATABLE READ snapshot, which waits out events held back below the horizon.
    if (onPostgres) expect(transactions).to.have.length.above(0);
    else expect(transactions).to.deep.equal([]);
  });

  it('sends a comment heartbeat every SSE_HEARTBEAT_MS while nothing happens', async () => {
    const reader = track(await SseReader.live(t.url, bob.token));
    const started = Date.now();
    await reader.nextFrame((f) => f.comments.length > 0 && f.data === undefined, HEARTBEAT_MS * 5);
    await reader.nextFrame((f) => f.comments.length > 0 && f.data === undefined, HEARTBEAT_MS * 5);
    const elapsed = Date.now() - started;
    expect(elapsed).to.be.within(HEARTBEAT_MS * 1.5, HEARTBEAT_MS * 5);
  });

  it('frames each event with its cursor as id, its type as event, and the Event JSON as data', async () => {
    const reader = track(await SseReader.live(t.url, bob.token));
    const sent = await send(alice, conversationId, 'framed');
    const event = await reader.nextEvent();
    expect(event.frame.id).to.equal(event.id);
    expect(event.frame.event).to.equal('message.created');
    expect(event.type).to.equal('message.created');
    expect(Date.parse(event.at)).to.be.a('number').and.not.NaN;
    expect(event.data).to.deep.equal(sent);
  });

  describe('with eventsource@4 and a bearer header', () => {
    it('receives a message sent by another user as message.created with its id', async () => {
      const es = track(new BearerEventSource(`${t.url}/events`, bob.token));
      await es.opened();
      const sent = await send(alice, conversationId, 'hello eventsource');
      await es.receivedCount(1);
      const [event] = es.received;
      expect(event!.type).to.equal('message.created');
      expect(event!.data.id).to.equal(sent.id);
      expect(event!.id).to.be.a('string').and.not.empty;
      expect(es.source.readyState).to.equal(es.source.OPEN);
    });

    it('reconnects after a dropped connection with Last-Event-ID and gets exactly the missed events, in order', async () => {
      const es = track(new BearerEventSource(`${t.url}/events`, bob.token));
      await es.opened();
      await send(alice, conversationId, 'before the drop');
      await es.receivedCount(1);
      const lastId = es.received[0]!.id;

      es.cut();
      for (const body of ['missed 1', 'missed 2', 'missed 3']) await send(alice, conversationId, body);
      es.releaseReconnect();
      await es.opened(2);
      await es.receivedCount(4);
      await send(alice, conversationId, 'after the reconnect');
      await es.receivedCount(5);

      expect(es.attempts).to.deep.equal([undefined, lastId]);
      expect(es.received.map((e) => e.data.body)).to.deep.equal([
        'before the drop',
        'missed 1',
        'missed 2',
        'missed 3',
        'after the reconnect',
      ]);
    });
  });

  it('streams to `curl -N` with a bearer header, as the README shows', async () => {
    const curl = spawn('curl', ['-sN', '-H', `Authorization: Bearer ${bob.token}`, `${t.url}/events`]);
    let output = '';
    const seen = (pattern: RegExp) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pattern.test(output)) {
            curl.stdout.off('data', onData);
            curl.off('exit', onExit);
            resolve();
          }
        };
        const onData = (chunk: Buffer) => {
          output += chunk.toString();
          check();
        };
        const onExit = () => reject(new Error(`curl exited; it printed: ${output}`));
        curl.stdout.on('data', onData);
        curl.once('exit', onExit);
        check();
      });
    try {
      await seen(/^: live$/m);
      const sent = await send(alice, conversationId, 'hello curl');
      await seen(/\n\n$/);
      await seen(new RegExp(`^data: .*"id":"${sent.id}".*\\n\\n`, 'm'));
      expect(output).to.match(/^retry: \d+$/m);
      expect(output).to.match(/^event: message\.created$/m);
      expect(output).to.match(/^id: \S+$/m);
    } finally {
      curl.kill();
      if (curl.exitCode === null) await once(curl, 'exit');
    }
  });

  describe('resuming', () => {
    /** Sends `body` while bob's stream is open and returns the id the stream gave it, stream closed. */
    const streamedId = async (body: string): Promise<string> => {
      const reader = track(await SseReader.live(t.url, bob.token));
      await send(alice, conversationId, body);
      const id = (await reader.nextEvent()).id!;
      reader.close();
      return id;
    };

    it('replays what came after ?cursor=, then goes live', async () => {
      const cursor = await streamedId('r2');
      await send(alice, conversationId, 'r3');
      const reader = track(await SseReader.live(t.url, bob.token, { cursor }));
      await send(alice, conversationId, 'r4');
      const bodies = (await reader.events(2)).map((e) => e.data.body);
      expect(bodies).to.deep.equal(['r3', 'r4']);
    });

    it('prefers Last-Event-ID over ?cursor=, as an EventSource reconnecting to a URL with a cursor needs', async () => {
      const idOfP2 = await streamedId('p2');
      await send(alice, conversationId, 'p3');
      // The URL's cursor is older than the header: the header must win.
      const reader = track(await SseReader.live(t.url, bob.token, { cursor: '0', lastEventId: idOfP2 }));
      const [event] = await reader.events(1);
      expect(event!.data.body).to.equal('p3');
    });

    for (const [where, opts] of [
      ['?cursor=', { query: '?cursor=not-a-cursor', headers: {} }],
      ['Last-Event-ID', { query: '', headers: { 'Last-Event-ID': 'abc' } }],
    ] as const) {
      it(`answers 400 problem+json to a malformed ${where}`, async () => {
        const reader = await SseReader.open(t.url, `/events${opts.query}`, bob.token, opts.headers);
        expect(reader.status).to.equal(400);
        expect(reader.headers.get('content-type')).to.match(/^application\/problem\+json/);
        expect(reader.problem).to.include({ status: 400, type: 'urn:parley:problem:malformed-cursor' });
        await reader.closed;
      });
    }
  });

  describe('who hears what', () => {
    it('never delivers events of a conversation the user was never in', async () => {
      const carol = await t.signUp('carol');
      const reader = track(await SseReader.live(t.url, carol.token));
      await send(alice, conversationId, 'not for carol');
      await send(bob, conversationId, 'nor this');
      // Something carol does hear, after the above: it must be the first thing she gets.
      const withCarol = await alice.api.post('/conversations', { participantIds: [carol.id] });
      const [event] = await reader.events(1);
      expect(event!.type).to.equal('conversation.created');
      expect(event!.data.id).to.equal(withCarol.body.id);
    });

    it('delivers a group only while the user is in it: nothing from before joining or after leaving', async () => {
      const ivy = await t.signUp('ivy');
      const { body: start } = await poll(ivy, { timeout: 0 });
      // Live on SSE, replayed on long-poll: the same rule on both paths.
      const stream = track(await SseReader.live(t.url, ivy.token, { cursor: start.cursor }));
      const group = await alice.api.post('/conversations', { participantIds: [bob.id], title: 'club' });
      await send(alice, group.body.id, 'before ivy joined');
      const added = await alice.api.post(`/conversations/${group.body.id}/participants`, {
        userIds: [ivy.id],
      });
      expect(added.status).to.equal(200);
      await send(alice, group.body.id, 'while ivy is in');
      const left = await ivy.api.delete(`/conversations/${group.body.id}/participants/${ivy.id}`);
      expect(left.status).to.equal(204);
      await send(alice, group.body.id, 'after ivy left');
      // A marker ivy does hear, after all of the above.
      const marker = await direct(alice, ivy);

      const expected = [
        'conversation.created',
        'message.created',
        'participant.removed',
        'conversation.created',
      ];
      const viaSse = await stream.events(expected.length);
      const viaPoll = (await poll(ivy, { cursor: start.cursor, timeout: 0 })).body.events;
      for (const seen of [viaSse, viaPoll]) {
        expect(seen.map((e: ParleyEvent) => e.type)).to.deep.equal(expected);
        expect(seen[1].data.body).to.equal('while ivy is in');
        expect(seen[3].data.id).to.equal(marker);
      }
      await stream.expectSilence(200);
    });

    it('tells both participants about a new conversation, and only them', async () => {
      const dave = await t.signUp('dave');
      const erin = await t.signUp('erin');
      const daveStream = track(await SseReader.live(t.url, dave.token));
      const bobStream = track(await SseReader.live(t.url, bob.token));
      const created = await dave.api.post('/conversations', { participantIds: [erin.id] });
      const erinEvents = track(await SseReader.live(t.url, erin.token, { cursor: '0' }));
      const [forDave] = await daveStream.events(1);
      expect(forDave!.type).to.equal('conversation.created');
      expect(forDave!.data.id).to.equal(created.body.id);
      const forErin = await erinEvents.nextOfType('conversation.created');
      expect(forErin.data.id).to.equal(created.body.id);
      await bobStream.expectSilence(300);
    });

    it('delivers message.deleted to the conversation', async () => {
      const reader = track(await SseReader.live(t.url, bob.token));
      const sent = await send(alice, conversationId, 'to be deleted');
      const del = await alice.api.delete(`/conversations/${conversationId}/message/${sent.id}`);
      expect(del.status).to.equal(204);
      const [created, deleted] = await reader.events(2);
      expect(created!.type).to.equal('message.created');
      expect(deleted!.type).to.equal('message.deleted');
      expect(deleted!.data).to.deep.equal({ conversationId, messageId: sent.id });
    });

    it('delivers user.updated to the user and their contacts, and user.deleted to contacts', async () => {
      const frank = await t.signUp('frank');
      await direct(frank, bob);
      const bobStream = track(await SseReader.live(t.url, bob.token));
      const frankStream = track(await SseReader.live(t.url, frank.token));
      const stranger = await t.signUp('stranger');
      const strangerStream = track(await SseReader.live(t.url, stranger.token));

      const put = await frank.api.put(`/users/${frank.id}`, { displayName: 'Frank N.' });
      expect(put.status).to.equal(200);
      for (const stream of [bobStream, frankStream]) {
        const event = await stream.nextOfType('user.updated');
        expect(event.data).to.include({ id: frank.id, displayName: 'Frank N.' });
      }

      expect((await frank.api.delete(`/users/${frank.id}`)).status).to.equal(204);
      const gone = await bobStream.nextOfType('user.deleted');
      expect(gone.data).to.deep.equal({ userId: frank.id });
      await strangerStream.expectSilence(200);
    });
  });

  describe('ending', () => {
    it('closes the stream when its session logs out, and leaves other sessions streaming', async () => {
      const again = await bob.api.post('/login', { username: bob.username, password: bob.password });
      const other = track(await SseReader.live(t.url, again.body.token));
      const mine = track(await SseReader.live(t.url, bob.token));
      const logout = await bob.api.as(again.body.token).post('/logout');
      expect(logout.status).to.equal(204);
      await other.closed;
      expect(mine.isEnded).to.equal(false);
      await send(alice, conversationId, 'still here');
      const [event] = await mine.events(1);
      expect(event!.data.body).to.equal('still here');
    });

    it("closes the other sessions' streams and polls when the password changes", async () => {
      const jo = await t.signUp('jo');
      const phone = await jo.api.post('/login', { username: jo.username, password: jo.password });
      const phoneToken = phone.body.token as string;
      const phoneStream = track(await SseReader.live(t.url, phoneToken));
      const phonePoll = jo.api.as(phoneToken).get('/events/poll?timeout=30');
      const mine = track(await SseReader.live(t.url, jo.token));
      const changed = await jo.api.put(`/users/${jo.id}`, {
        password: 'a brand new password',
        currentPassword: jo.password,
      });
      expect(changed.status).to.equal(200);
      await phoneStream.closed;
      expect((await phonePoll).status).to.equal(401);
      expect(mine.isEnded).to.equal(false);
    });

    it('closes the stream when the account is deleted', async () => {
      const hank = await t.signUp('hank');
      const reader = track(await SseReader.live(t.url, hank.token));
      expect((await hank.api.delete(`/users/${hank.id}`)).status).to.equal(204);
      await reader.closed;
      const after = await SseReader.open(t.url, '/events', hank.token);
      expect(after.status).to.equal(401);
      await after.closed;
    });
  });
});
