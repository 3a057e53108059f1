import { expect } from 'chai';
import { direct, poll, send } from '../helpers/chat.ts';
import { signUp, type TestUser } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { SseReader } from '../helpers/sse.ts';
import { countStatements, hubCaughtUp } from '../helpers/statements.ts';

const BATCH = 5;

describe('GET /events/poll (long-poll)', () => {
  const t = useServer({
    users: ['alice', 'bob'],
    // No push dispatcher: its reads after each send would be counted as a poll's.
    env: { POLL_BATCH_SIZE: String(BATCH), MESSAGES_PER_WINDOW: '0', PUSH_ENABLED: 'false' },
  });
  let alice: TestUser;
  let bob: TestUser;
  let conversationId: string;

  before(async () => {
    ({ alice, bob } = t.users);
    conversationId = await direct(alice, bob);
  });

  it('starts at now without a cursor, and answers an empty timeout with the same cursor', async () => {
    await send(alice, conversationId, 'before the first poll');
    const started = Date.now();
    const res = await poll(bob, { timeout: 1 });
    expect(res.status).to.equal(200);
    expect(res.body.events).to.deep.equal([]);
    expect(res.body.cursor).to.be.a('string');
    expect(Date.now() - started).to.be.within(900, 3000);
    const again = await poll(bob, { cursor: res.body.cursor, timeout: 0 });
    expect(again.body).to.deep.equal({ events: [], cursor: res.body.cursor });
  });

  it('answers at once when events are pending, and chains through the cursor it returns', async () => {
    const { body: start } = await poll(bob, { timeout: 0 });
    await send(alice, conversationId, 'one');
    await send(alice, conversationId, 'two');
    const began = Date.now();
    const first = await poll(bob, { cursor: start.cursor, timeout: 30 });
    expect(Date.now() - began).to.be.below(1000);
    expect(first.body.events.map((e: any) => e.data.body)).to.deep.equal(['one', 'two']);
    expect(first.body.cursor).to.equal(first.body.events[1].id);
    await send(alice, conversationId, 'three');
    const second = await poll(bob, { cursor: first.body.cursor, timeout: 30 });
    expect(second.body.events.map((e: any) => e.data.body)).to.deep.equal(['three']);
  });

  it('reads nothing from the database for a waiting poll from where the node has fanned out to', async () => {
    // The re-poll of a woken client: one message to a group wakes every member's poll, and each
    // polls again at once from the cursor it was given (issue 16: a woken poll costs a frame).
    const { body: start } = await poll(bob, { timeout: 0 });
    await send(alice, conversationId, 'caught up');
    const woken = await poll(bob, { cursor: start.cursor, timeout: 30 });
    expect(woken.body.events.map((e: any) => e.data.body)).to.deep.equal(['caught up']);
    // It waits out its second with nothing to answer, and asks the database nothing meanwhile.
    const { statements, result } = await countStatements(t.server.parley.deps.db, () =>
      poll(bob, { cursor: woken.body.cursor, timeout: 1 }),
    );
    expect(result.body).to.deep.equal({ events: [], cursor: woken.body.cursor });
    expect(statements).to.equal(0);
    // A cursor behind it still reads the log.
    const behind = await countStatements(t.server.parley.deps.db, () =>
      poll(bob, { cursor: start.cursor, timeout: 1 }),
    );
    expect(behind.result.body.events.map((e: any) => e.data.body)).to.deep.equal(['caught up']);
    expect(behind.statements).to.be.above(0);
  });

  it('reads nothing from the database for a waiting poll behind the fan-out only by events for others', async () => {
    // A woken client's re-poll comes back after others' events went out (a receipt to the sender,
    // another conversation's message): it has nothing to read either.
    const { body: start } = await poll(bob, { timeout: 0 });
    await send(alice, conversationId, 'for bob');
    const woken = await poll(bob, { cursor: start.cursor, timeout: 30 });
    expect(woken.body.events.map((e: any) => e.data.body)).to.deep.equal(['for bob']);
    const carol = await signUp(t.url, 'carol');
    await send(alice, await direct(alice, carol), 'not for bob');
    await hubCaughtUp(t.server);
    const { statements, result } = await countStatements(t.server.parley.deps.db, () =>
      poll(bob, { cursor: woken.body.cursor, timeout: 1 }),
    );
    expect(result.body).to.deep.equal({ events: [], cursor: woken.body.cursor });
    expect(statements).to.equal(0);
    // Something for bob after that cursor: answered at once, whichever way it is found.
    await send(alice, conversationId, 'for bob again');
    const began = Date.now();
    const again = await poll(bob, { cursor: woken.body.cursor, timeout: 30 });
    expect(Date.now() - began).to.be.below(1000);
    expect(again.body.events.map((e: any) => e.data.body)).to.deep.equal(['for bob again']);
  });

  it('wakes a waiting poll as soon as an event arrives', async () => {
    const { body: start } = await poll(bob, { timeout: 0 });
    const waiting = poll(bob, { cursor: start.cursor, timeout: 20 });
    // The poll is waiting once the server counts it among bob's connections.
    while (t.server.parley.deps.hub.connectionsOf(Number(bob.id)) === 0) await new Promise(setImmediate);
    const sentAt = Date.now();
    await send(alice, conversationId, 'wake up');
    const res = await waiting;
    expect(Date.now() - sentAt).to.be.below(1000);
    expect(res.body.events.map((e: any) => e.data.body)).to.deep.equal(['wake up']);
    expect(res.body.cursor).to.equal(res.body.events[0].id);
  });

  it('answers at most POLL_BATCH_SIZE events, with the cursor of the last one delivered', async () => {
    const { body: start } = await poll(bob, { timeout: 0 });
    const bodies = Array.from({ length: BATCH + 2 }, (_, i) => `batch ${i}`);
    for (const body of bodies) await send(alice, conversationId, body);
    const first = await poll(bob, { cursor: start.cursor, timeout: 0 });
    expect(first.body.events).to.have.length(BATCH);
    expect(first.body.cursor).to.equal(first.body.events[BATCH - 1].id);
    const rest = await poll(bob, { cursor: first.body.cursor, timeout: 0 });
    expect([...first.body.events, ...rest.body.events].map((e: any) => e.data.body)).to.deep.equal(bodies);
  });

  it('marks its answers uncacheable, so no proxy replays a stale one', async () => {
    const res = await poll(bob, { timeout: 0 });
    expect(res.headers.get('cache-control')).to.equal('no-store');
  });

  it('clamps the timeout to 0–60 seconds', async () => {
    const res = await poll(bob, { timeout: -5 });
    expect(res.status).to.equal(200);
    expect(res.body.events).to.deep.equal([]);
  });

  it('answers 400 problem+json to a malformed cursor', async () => {
    for (const cursor of ['abc', '-1', '1.5', '01', '9999999999999999999']) {
      const res = await poll(bob, { cursor, timeout: 0 });
      expect(res.status, cursor).to.equal(400);
      expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(res.body.type).to.equal('urn:parley:problem:malformed-cursor');
    }
  });

  it('hands over to SSE and back at the same cursor, losing and repeating nothing', async () => {
    const { body: start } = await poll(bob, { timeout: 0 });
    await send(alice, conversationId, 'h1');
    const viaPoll = await poll(bob, { cursor: start.cursor, timeout: 5 });
    await send(alice, conversationId, 'h2');
    const stream = await SseReader.live(t.url, bob.token, { cursor: viaPoll.body.cursor });
    await send(alice, conversationId, 'h3');
    const viaSse = await stream.events(2);
    stream.close();
    await send(alice, conversationId, 'h4');
    const back = await poll(bob, { cursor: viaSse[1]!.id, timeout: 5 });
    const seen = [...viaPoll.body.events, ...viaSse, ...back.body.events];
    expect(seen.map((e: any) => e.data.body)).to.deep.equal(['h1', 'h2', 'h3', 'h4']);
  });

  it('gives the same per-user sequence on both transports', async () => {
    const { body: start } = await poll(bob, { timeout: 0 });
    const stream = await SseReader.live(t.url, bob.token, { cursor: start.cursor });
    const sent = await send(alice, conversationId, 'seq 1');
    await alice.api.delete(`/conversations/${conversationId}/message/${sent.id}`);
    await bob.api.put(`/users/${bob.id}`, { displayName: 'Bob B.' });
    await send(bob, conversationId, 'seq 2');
    const viaSse = await stream.events(4);
    stream.close();
    const viaPoll = await poll(bob, { cursor: start.cursor, timeout: 0 });
    // The same sequence, but for the deleted message's creation: a replay after the delete no longer
    // holds its text, only its tombstone (issue 12 item 19).
    const replayable = viaSse.filter((e: any) => !(e.type === 'message.created' && e.data.id === sent.id));
    expect(viaPoll.body.events).to.deep.equal(replayable.map(({ frame: _, ...event }: any) => event));
    expect(viaSse.map((e) => e.type)).to.deep.equal([
      'message.created',
      'message.deleted',
      'user.updated',
      'message.created',
    ]);
  });

  it('ends a waiting poll with 401 when its session logs out', async () => {
    const again = await bob.api.post('/login', { username: bob.username, password: bob.password });
    const other = bob.api.as(again.body.token);
    const waiting = other.get('/events/poll?timeout=30');
    while (t.server.parley.deps.hub.connectionsOf(Number(bob.id)) === 0) await new Promise(setImmediate);
    const began = Date.now();
    expect((await other.post('/logout')).status).to.equal(204);
    const res = await waiting;
    expect(Date.now() - began).to.be.below(1000);
    expect(res.status).to.equal(401);
    expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
  });
});
