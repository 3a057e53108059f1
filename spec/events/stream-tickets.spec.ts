import { expect } from 'chai';
import { EventSource } from 'eventsource';
import { direct, send } from '../helpers/chat.ts';
import { Api, type TestUser } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { expectProblem } from '../helpers/problem.ts';
import { startServer } from '../helpers/server.ts';
import { SseReader } from '../helpers/sse.ts';

const STREAM = { Accept: 'text/event-stream' };

async function ticketOf(user: TestUser): Promise<string> {
  const res = await user.api.post('/events/ticket');
  expect(res.status, res.text).to.equal(200);
  return res.body.ticket;
}

/** Opens GET /events with a ticket and no other credential, as a cross-site EventSource does. */
async function openWithTicket(url: string, ticket: string, query = ''): Promise<SseReader> {
  const reader = await SseReader.open(url, `/events?ticket=${encodeURIComponent(ticket)}${query}`, undefined);
  expect(reader.status, JSON.stringify(reader.problem)).to.equal(200);
  await reader.waitFor((f) => f.comments.includes('live'));
  return reader;
}

describe('POST /events/ticket and GET /events?ticket=', () => {
  const t = useServer({ users: ['alice', 'bob'] });
  const anonymous = () => new Api(t.url);

  it('issues a ticket that expires in 60 s and is never cached', async () => {
    const before = Date.now();
    const res = await t.users.bob.api.post('/events/ticket');
    expect(res.status, res.text).to.equal(200);
    expect(res.body.ticket).to.match(/^[A-Za-z0-9_-]{43}$/);
    const ttl = Date.parse(res.body.expiresAt) - before;
    expect(ttl).to.be.within(59_000, 61_000);
    expect(res.headers.get('cache-control')).to.equal('no-store');
  });

  it("opens a stream without a bearer header or cookie, delivering the session user's events", async () => {
    const { alice, bob } = t.users;
    const conversation = await direct(alice, bob);
    const stream = await openWithTicket(t.url, await ticketOf(bob));
    try {
      await send(alice, conversation, 'over a ticket');
      const event = await stream.nextOfType('message.created');
      expect(event.data.body).to.equal('over a ticket');
    } finally {
      stream.close();
    }
  });

  it('opens one stream only: the second use is a 401', async () => {
    const ticket = await ticketOf(t.users.bob);
    const stream = await openWithTicket(t.url, ticket);
    stream.close();
    const again = await anonymous().get(`/events?ticket=${ticket}`, STREAM);
    expectProblem(again, 401, 'invalid-stream-ticket');
    expect(again.headers.get('www-authenticate')).to.match(/^Bearer/);
  });

  it('lets exactly one of two simultaneous redemptions through', async () => {
    const ticket = await ticketOf(t.users.bob);
    const [a, b] = await Promise.all([
      SseReader.open(t.url, `/events?ticket=${ticket}`, undefined),
      SseReader.open(t.url, `/events?ticket=${ticket}`, undefined),
    ]);
    a.close();
    b.close();
    expect([a.status, b.status].sort()).to.deep.equal([200, 401]);
  });

  it('answers 401 to an unknown or malformed ticket, and to an empty one', async () => {
    for (const ticket of ['A'.repeat(43), 'not a ticket', '']) {
      const res = await anonymous().get(`/events?ticket=${encodeURIComponent(ticket)}`, STREAM);
      expectProblem(res, 401, 'invalid-stream-ticket');
    }
  });

  it('answers 401 to an expired ticket', async () => {
    const ticket = await ticketOf(t.users.bob);
    // The clock moved on: the row is what every node consults.
    await t.server.parley.deps
      .db('stream_tickets')
      .update({ expires_at: new Date(Date.now() - 1).toISOString() });
    expectProblem(await anonymous().get(`/events?ticket=${ticket}`, STREAM), 401, 'invalid-stream-ticket');
  });

  it("dies with its session: a logged-out session's ticket is a 401, and its ticket's stream closes", async () => {
    const { bob } = t.users;
    const login = await anonymous().post('/login', { username: bob.username, password: bob.password });
    const session = { ...bob, token: login.body.token, api: anonymous().as(login.body.token) };
    const unused = await ticketOf(session);
    const stream = await openWithTicket(t.url, await ticketOf(session));
    expect((await session.api.post('/logout')).status).to.equal(204);
    await stream.closed;
    expectProblem(await anonymous().get(`/events?ticket=${unused}`, STREAM), 401, 'invalid-stream-ticket');
    // Bob's other session is untouched.
    expect((await bob.api.post('/events/ticket')).status).to.equal(200);
  });

  it('resumes from ?cursor= like any stream', async () => {
    const { alice, bob } = t.users;
    const conversation = await direct(alice, bob);
    await send(alice, conversation, 'before');
    const poll = await bob.api.get('/events/poll?timeout=0');
    const cursor: string = poll.body.cursor;
    await send(alice, conversation, 'after the cursor');
    const stream = await openWithTicket(t.url, await ticketOf(bob), `&cursor=${cursor}`);
    try {
      const event = await stream.nextOfType('message.created');
      expect(event.data.body).to.equal('after the cursor');
    } finally {
      stream.close();
    }
  });

  it('refuses a 21st unused ticket of one session with a 429', async () => {
    const user = await t.signUp('tickets');
    for (let i = 0; i < 20; i++) expect((await user.api.post('/events/ticket')).status).to.equal(200);
    const refused = await user.api.post('/events/ticket');
    expectProblem(refused, 429, 'rate-limited');
    expect(refused.headers.get('retry-after')).to.equal('60');
  });

  it('needs a session to issue one', async () => {
    expectProblem(await anonymous().post('/events/ticket'), 401, 'unauthenticated');
  });

  it("stops a real EventSource's retries once its ticket is used: the reconnect gets a 401", async () => {
    const { bob } = t.users;
    const login = await anonymous().post('/login', { username: bob.username, password: bob.password });
    const session = { ...bob, token: login.body.token, api: anonymous().as(login.body.token) };
    const source = new EventSource(`${t.url}/events?ticket=${await ticketOf(session)}`);
    try {
      await new Promise<void>((resolve, reject) => {
        source.onopen = () => resolve();
        source.onerror = () => reject(new Error('did not open'));
      });
      const failed = new Promise<number | undefined>((resolve) => {
        source.onerror = (e) => {
          if (source.readyState === EventSource.CLOSED) resolve((e as { code?: number }).code);
        };
      });
      // The server ends the stream; EventSource reconnects with the same, now used, ticket.
      await session.api.post('/logout');
      expect(await failed).to.equal(401);
    } finally {
      source.close();
    }
  });
});

describe('stream tickets across nodes', () => {
  const t = useServer({ users: ['alice'] });

  it('opens a stream on a node other than the one that issued the ticket', async () => {
    const other = await startServer({ SESSION_SECRET: t.server.env.SESSION_SECRET ?? '' }, t.server.dir);
    try {
      const ticket = await ticketOf(t.users.alice);
      const stream = await openWithTicket(other.url, ticket);
      stream.close();
      // And it is used up there too.
      const again = await new Api(t.url).get(`/events?ticket=${ticket}`, STREAM);
      expectProblem(again, 401, 'invalid-stream-ticket');
    } finally {
      await other.stop();
    }
  });
});
