import { expect } from 'chai';
import { direct } from '../helpers/chat.ts';
import { Api, type ApiResponse, signUp } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { startServer } from '../helpers/server.ts';

const PASSWORD = 'correct horse battery';

function expectRateLimited(res: ApiResponse): void {
  expect(res.status, res.text).to.equal(429);
  expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
  expect(res.body.type).to.equal('urn:parley:problem:rate-limited');
  expect(res.body.status).to.equal(429);
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(
    Number.isInteger(retryAfter) && retryAfter >= 1,
    `Retry-After: ${res.headers.get('retry-after')}`,
  ).to.equal(true);
}

/** Retries `attempt` until it answers `status` (bounded in tries and time), returning the last answer. */
async function eventually(attempt: () => Promise<ApiResponse>, status: number, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  let res = await attempt();
  for (let tries = 0; res.status !== status && tries < 100 && Date.now() < deadline; tries++) {
    await new Promise((r) => setTimeout(r, Math.min(250, Number(res.headers.get('retry-after') ?? 1) * 100)));
    res = await attempt();
  }
  return res;
}

const from = (ip: string) => ({ 'X-Forwarded-For': ip });

describe('failed logins', () => {
  const t = useServer({
    env: {
      LOGIN_FAILURES_PER_WINDOW: '3',
      LOGIN_FAILURE_WINDOW_SECONDS: '600',
      TRUST_PROXY: 'true',
    },
  });
  const api = t.api;

  it('answers 429 with Retry-After once a username has used up its failures, from any address', async () => {
    const victim = await t.signUp('victim');
    for (let i = 0; i < 3; i++) {
      const res = await api.post(
        '/login',
        { username: victim.username, password: 'wrong password' },
        from(`10.0.0.${i}`),
      );
      expect(res.status).to.equal(401);
    }
    const locked = await api.post(
      '/login',
      { username: victim.username, password: PASSWORD },
      from('10.9.9.9'),
    );
    expectRateLimited(locked);
  });

  it('limits failures per address across usernames, leaving other addresses alone', async () => {
    const user = await t.signUp('bystander');
    for (let i = 0; i < 3; i++) {
      await api.post('/login', { username: `nobody_${i}`, password: 'wrong password' }, from('10.2.0.1'));
    }
    expectRateLimited(
      await api.post('/login', { username: user.username, password: PASSWORD }, from('10.2.0.1')),
    );
    const elsewhere = await api.post(
      '/login',
      { username: user.username, password: PASSWORD },
      from('10.2.0.2'),
    );
    expect(elsewhere.status).to.equal(200);
  });
});

describe('failed logins back off', () => {
  it('is a back-off, not a lock: the right password works again once the window has passed', async () => {
    // A short window; the failures go out together so they land inside it even on a busy machine.
    const server = await startServer({ LOGIN_FAILURES_PER_WINDOW: '3', LOGIN_FAILURE_WINDOW_SECONDS: '2' });
    try {
      const api = new Api(server.url);
      const victim = await signUp(server.url, 'backoff');
      const fail = () => api.post('/login', { username: victim.username, password: 'wrong password' });
      await Promise.all([fail(), fail(), fail()]);
      expectRateLimited(await api.post('/login', { username: victim.username, password: PASSWORD }));
      const later = await eventually(
        () => api.post('/login', { username: victim.username, password: PASSWORD }),
        200,
        10_000,
      );
      expect(later.status, later.text).to.equal(200);
    } finally {
      await server.close();
    }
  });
});

describe('registrations per address', () => {
  let n = 0;
  const register = (api: Api, headers: Record<string, string> = {}) =>
    api.post('/register', { username: `reg_${process.pid}_${++n}`, password: PASSWORD }, headers);

  it('answers 429 with Retry-After beyond REGISTRATIONS_PER_WINDOW', async () => {
    const server = await startServer({ REGISTRATIONS_PER_WINDOW: '2' });
    try {
      const api = new Api(server.url);
      expect((await register(api)).status).to.equal(201);
      expect((await register(api)).status).to.equal(201);
      expectRateLimited(await register(api));
    } finally {
      await server.close();
    }
  });

  it('ignores X-Forwarded-For unless TRUST_PROXY is set', async () => {
    const server = await startServer({ REGISTRATIONS_PER_WINDOW: '1' });
    try {
      const api = new Api(server.url);
      expect((await register(api, from('10.3.0.1'))).status).to.equal(201);
      expectRateLimited(await register(api, from('10.3.0.2')));
    } finally {
      await server.close();
    }
  });

  it('takes the client address from X-Forwarded-For when TRUST_PROXY is set', async () => {
    const server = await startServer({ REGISTRATIONS_PER_WINDOW: '1', TRUST_PROXY: 'true' });
    try {
      const api = new Api(server.url);
      expect((await register(api, from('10.4.0.1'))).status).to.equal(201);
      expectRateLimited(await register(api, from('10.4.0.1')));
      // The left-most entry is the client; the proxy chain after it does not matter.
      expect((await register(api, from('10.4.0.2, 10.4.0.1'))).status).to.equal(201);
    } finally {
      await server.close();
    }
  });
});

describe('message sends per user', () => {
  const t = useServer({
    users: ['chatty', 'calm'],
    env: { MESSAGES_PER_WINDOW: '3', MESSAGE_WINDOW_SECONDS: '60' },
  });

  it('answers 429 with Retry-After beyond MESSAGES_PER_WINDOW, per sender', async () => {
    const { chatty: alice, calm: bob } = t.users;
    const id = await direct(alice, bob);
    for (let i = 0; i < 3; i++) {
      expect((await alice.api.post(`/conversations/${id}/message`, { body: `m${i}` })).status).to.equal(201);
    }
    const refused = await alice.api.post(`/conversations/${id}/message`, { body: 'one too many' });
    expectRateLimited(refused);
    // Another sender in the same conversation has a budget of their own.
    expect((await bob.api.post(`/conversations/${id}/message`, { body: 'hi' })).status).to.equal(201);
    // The refused message was not stored.
    const history = await bob.api.get(`/conversations/${id}`);
    expect(history.body.messages.map((m: { body: string }) => m.body)).to.deep.equal([
      'm0',
      'm1',
      'm2',
      'hi',
    ]);
  });
});

describe('open streams per user', () => {
  const t = useServer({ users: ['streamer'], env: { STREAMS_PER_USER: '2' } });

  it('answers 429 with Retry-After beyond STREAMS_PER_USER, and accepts again once one closes', async () => {
    const { streamer: user } = t.users;
    const open = async () => {
      const abort = new AbortController();
      const res = await fetch(`${t.url}/events`, {
        headers: { Authorization: `Bearer ${user.token}`, Accept: 'text/event-stream' },
        signal: abort.signal,
      });
      return { res, close: () => abort.abort() };
    };
    const first = await open();
    const second = await open();
    expect([first.res.status, second.res.status]).to.deep.equal([200, 200]);
    const third = await user.api.get('/events/poll?timeout=0');
    expectRateLimited(third);
    first.close();
    const again = await eventually(() => user.api.get('/events/poll?timeout=0'), 200);
    expect(again.status).to.equal(200);
    second.close();
  });
});

describe('typing notifications per user', () => {
  const t = useServer({
    users: ['typist', 'reader'],
    env: { TYPING_PER_WINDOW: '2', TYPING_WINDOW_SECONDS: '60' },
  });

  it('answers 429 with Retry-After beyond TYPING_PER_WINDOW, per user', async () => {
    const { typist: alice, reader: bob } = t.users;
    const id = await direct(alice, bob);
    expect((await alice.api.post(`/conversations/${id}/typing`)).status).to.equal(204);
    expect((await alice.api.post(`/conversations/${id}/typing`)).status).to.equal(204);
    expectRateLimited(await alice.api.post(`/conversations/${id}/typing`));
    expect((await bob.api.post(`/conversations/${id}/typing`)).status).to.equal(204);
  });
});
