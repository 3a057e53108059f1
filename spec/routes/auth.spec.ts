import { expect } from 'chai';
import { Api, signUp } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { errorPaths, expectProblem } from '../helpers/problem.ts';
import { startServer } from '../helpers/server.ts';

const cookieOf = (token: string) => ({ Cookie: `parley_session=${token}` });

/** The same token with one character of its sealed payload changed. */
function flipOneByte(token: string): string {
  const i = Math.floor(token.length / 2);
  const replacement = token[i] === 'A' ? 'B' : 'A';
  return token.slice(0, i) + replacement + token.slice(i + 1);
}

describe('POST /register', () => {
  const t = useServer();
  const api = t.api;

  it('creates a user and answers 201 with a Location and no secret', async () => {
    const res = await api.post('/register', {
      username: 'Reg.User-1',
      password: 'long enough',
      displayName: '  Reggie  ',
      avatarUrl: 'https://example.com/a.png',
    });
    expect(res.status).to.equal(201);
    expect(res.headers.get('location')).to.equal(`/users/${res.body.id}`);
    expect(res.body).to.include({
      username: 'Reg.User-1',
      displayName: 'Reggie',
      avatarUrl: 'https://example.com/a.png',
    });
    expect(res.body.id).to.be.a('string');
    expect(res.body.createdAt).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(res.text).not.to.match(/password|hash|scrypt/i);
  });

  it('defaults the display name to the username and the avatar to null', async () => {
    const res = await api.post('/register', { username: 'plain_user', password: 'long enough' });
    expect(res.status).to.equal(201);
    expect(res.body).to.include({ displayName: 'plain_user', avatarUrl: null });
  });

  it('rejects a username taken in another case with 409', async () => {
    const res = await api.post('/register', { username: 'PLAIN_USER', password: 'long enough' });
    expectProblem(res, 409, 'username-taken');
  });

  /** A valid registration of `username`, with `fields` over it. */
  const body = (username: string, fields: Record<string, unknown> = {}) => ({
    username,
    password: 'long enough',
    ...fields,
  });
  const invalid: [string, Record<string, unknown>, string][] = [
    ['a username shorter than 3', body('ab'), 'username'],
    ['a username longer than 32', body('a'.repeat(33)), 'username'],
    ['a username with a space', body('has space'), 'username'],
    ['a username with a non-ASCII letter', body('zoë_user'), 'username'],
    ['a missing username', { password: 'long enough' }, 'username'],
    ['a password shorter than 8', body('short_pw', { password: '1234567' }), 'password'],
    ['a password longer than 256', body('long_pw', { password: 'x'.repeat(257) }), 'password'],
    ['a blank displayName', body('blank_dn', { displayName: '   ' }), 'displayName'],
    ['a displayName longer than 64', body('long_dn', { displayName: 'd'.repeat(65) }), 'displayName'],
    ['a displayName with a control character', body('ctrl_dn', { displayName: 'a\u0007b' }), 'displayName'],
    [
      'an avatarUrl that is not http(s)',
      body('ftp_av', { avatarUrl: 'ftp://example.com/a.png' }),
      'avatarUrl',
    ],
    ['a javascript: avatarUrl', body('js_av', { avatarUrl: 'javascript:alert(1)' }), 'avatarUrl'],
    ['an avatarUrl that is not a URL', body('bad_av', { avatarUrl: 'nope' }), 'avatarUrl'],
    ['an unknown field', body('typo_user', { displayname: 'Typo' }), 'displayname'],
  ];
  for (const [what, sent, field] of invalid) {
    it(`rejects ${what} with 400 naming ${field}`, async () => {
      const res = await api.post('/register', sent);
      expectProblem(res, 400, 'validation-failed');
      expect(errorPaths(res)).to.include(field);
    });
  }

  it('rejects a body that is not a JSON object with 400', async () => {
    expectProblem(await api.post('/register', [1, 2]), 400);
  });
});

describe('POST /login', () => {
  const t = useServer({ users: ['login'], env: { LOGIN_FAILURES_PER_WINDOW: '100' } });
  const { login: user } = t.users;
  const api = t.api;

  it('returns a token, its expiry and the user, and sets the same token as an HttpOnly cookie', async () => {
    const res = await api.post('/login', { username: user.username, password: user.password });
    expect(res.status).to.equal(200);
    expect(res.body.user).to.include({ id: user.id, username: user.username });
    expect(Date.parse(res.body.expiresAt)).to.be.greaterThan(Date.now() + 29 * 86_400_000);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('parley_session='));
    expect(cookie).to.be.a('string');
    expect(cookie).to.include(`parley_session=${res.body.token};`);
    expect(cookie).to.match(/;\s*httponly/i);
    expect(cookie).to.match(/;\s*samesite=lax/i);
    expect(cookie).to.match(/;\s*path=\//i);
  });

  it('accepts the username in another case', async () => {
    const res = await api.post('/login', { username: user.username.toUpperCase(), password: user.password });
    expect(res.status).to.equal(200);
  });

  it('answers an unknown user and a wrong password with the identical 401 body', async () => {
    const unknown = await api.post('/login', { username: 'nobody_here', password: 'whatever1' });
    const wrong = await api.post('/login', { username: user.username, password: 'wrong password' });
    expectProblem(unknown, 401, 'invalid-credentials');
    expectProblem(wrong, 401, 'invalid-credentials');
    expect(wrong.text).to.equal(unknown.text);
  });

  it('rejects a missing password and an unknown field with 400', async () => {
    const res = await api.post('/login', { username: user.username, pasword: 'x' });
    expectProblem(res, 400, 'validation-failed');
    expect(errorPaths(res)).to.include.members(['password', 'pasword']);
  });
});

describe('POST /login throttling', () => {
  const t = useServer({ env: { LOGIN_FAILURES_PER_WINDOW: '3', LOGIN_FAILURE_WINDOW_SECONDS: '60' } });

  it('answers 429 with Retry-After after repeated failed logins, even with the right password', async () => {
    const user = await signUp(t.url, 'throttled');
    const api = new Api(t.url);
    for (let i = 0; i < 3; i++) {
      expectProblem(await api.post('/login', { username: user.username, password: 'wrong password' }), 401);
    }
    const blocked = await api.post('/login', { username: user.username, password: user.password });
    expectProblem(blocked, 429, 'rate-limited');
    const retryAfter = Number(blocked.headers.get('retry-after'));
    expect(retryAfter).to.be.within(1, 60);
  });
});

describe('authentication', () => {
  // These specs change session rows behind the API's back, which a node's session cache would
  // not see for SESSION_CACHE_SECONDS.
  const t = useServer({ users: ['authn'], env: { SESSION_CACHE_SECONDS: '0' } });
  const { authn: user } = t.users;
  const api = t.api;

  it('accepts the token as a Bearer header', async () => {
    const res = await user.api.get(`/users/${user.id}`);
    expect(res.status).to.equal(200);
    expect(res.body.id).to.equal(user.id);
  });

  it('accepts the token as the session cookie', async () => {
    const res = await api.get(`/users/${user.id}`, cookieOf(user.token));
    expect(res.status).to.equal(200);
  });

  it('answers 401 with WWW-Authenticate when no token is sent', async () => {
    const res = await api.get(`/users/${user.id}`);
    expectProblem(res, 401, 'unauthenticated');
    expect(res.headers.get('www-authenticate')).to.match(/^Bearer/);
  });

  for (const header of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b', 'token']) {
    it(`answers 401 to the malformed Authorization header "${header}"`, async () => {
      expectProblem(await api.get(`/users/${user.id}`, { Authorization: header }), 401, 'unauthenticated');
    });
  }

  it('answers 401 to a garbage token', async () => {
    expectProblem(await api.as('not-a-sealed-token').get(`/users/${user.id}`), 401, 'unauthenticated');
  });

  it('answers 401 to a token with one byte changed, as a header and as a cookie', async () => {
    const forged = flipOneByte(user.token);
    expect(forged).not.to.equal(user.token);
    expectProblem(await api.as(forged).get(`/users/${user.id}`), 401);
    expectProblem(await api.get(`/users/${user.id}`, cookieOf(forged)), 401);
  });

  it('answers 401 to a session that has expired', async () => {
    const other = await signUp(t.url, 'expiring');
    await t.server.parley.deps
      .db('sessions')
      .where({ user_id: Number(other.id) })
      .update({ expires_at: new Date(Date.now() - 1000).toISOString() });
    expectProblem(await other.api.get(`/users/${other.id}`), 401, 'unauthenticated');
  });

  it('slides a session that is past half its lifetime forward', async () => {
    const login = await api.post('/login', { username: user.username, password: user.password });
    const soon = new Date(Date.now() + 60_000).toISOString();
    const db = t.server.parley.deps.db;
    await db('sessions')
      .where({ user_id: Number(user.id) })
      .update({ expires_at: soon });
    expect((await api.as(login.body.token).get(`/users/${user.id}`)).status).to.equal(200);
    expect((await user.api.get(`/users/${user.id}`)).status).to.equal(200);
    const rows = await db('sessions')
      .where({ user_id: Number(user.id) })
      .select('expires_at');
    for (const row of rows) expect(Date.parse(row.expires_at)).to.be.greaterThan(Date.now() + 86_400_000);
  });
});

describe('POST /logout', () => {
  const t = useServer({ users: ['logout'] });
  const { logout: user } = t.users;
  const api = t.api;

  const freshToken = async () =>
    (await api.post('/login', { username: user.username, password: user.password })).body.token as string;

  it('revokes this session at once and leaves the others working', async () => {
    const token = await freshToken();
    const res = await api.as(token).post('/logout');
    expect(res.status).to.equal(204);
    expect(res.text).to.equal('');
    const cleared = res.headers.getSetCookie().find((c) => c.startsWith('parley_session='));
    expect(cleared).to.match(/expires=Thu, 01 Jan 1970/i);
    expectProblem(await api.as(token).get(`/users/${user.id}`), 401, 'unauthenticated');
    expectProblem(await api.get(`/users/${user.id}`, cookieOf(token)), 401, 'unauthenticated');
    expect((await user.api.get(`/users/${user.id}`)).status).to.equal(200);
  });

  it("reads a session's row once while this node trusts it, and refuses it at once after logout", async () => {
    const token = await freshToken();
    const sessionReads: string[] = [];
    const onQuery = (q: { sql: string }) => {
      if (/from [`"]sessions[`"]/i.test(q.sql) && /^select/i.test(q.sql)) sessionReads.push(q.sql);
    };
    t.server.parley.deps.db.on('query', onQuery);
    try {
      for (let i = 0; i < 3; i++) expect((await api.as(token).get(`/users/${user.id}`)).status).to.equal(200);
      expect(sessionReads).to.have.length(1);
      expect((await api.as(token).post('/logout')).status).to.equal(204);
      expectProblem(await api.as(token).get(`/users/${user.id}`), 401, 'unauthenticated');
    } finally {
      t.server.parley.deps.db.off('query', onQuery);
    }
  });

  it('answers 401 without a session', async () => {
    expectProblem(await api.post('/logout'), 401, 'unauthenticated');
  });

  it('answers 401 to a token already logged out', async () => {
    const token = await freshToken();
    expect((await api.as(token).post('/logout')).status).to.equal(204);
    expectProblem(await api.as(token).post('/logout'), 401);
  });

  describe('with the session cookie (CSRF rule)', () => {
    it('refuses a write with neither a JSON content type nor an Origin with 403', async () => {
      const token = await freshToken();
      expectProblem(await api.post('/logout', undefined, cookieOf(token)), 403, 'cross-site-write');
      expect((await api.as(token).get(`/users/${user.id}`)).status).to.equal(200);
    });

    it('refuses a write from a foreign Origin with 403, even as JSON', async () => {
      const token = await freshToken();
      const res = await api.put(
        `/users/${user.id}`,
        { displayName: 'Forged' },
        { ...cookieOf(token), Origin: 'https://evil.example' },
      );
      expectProblem(res, 403, 'cross-site-write');
    });

    it('accepts a write with a JSON content type', async () => {
      const token = await freshToken();
      const res = await api.put(`/users/${user.id}`, { displayName: 'Via Cookie' }, cookieOf(token));
      expect(res.status).to.equal(200);
      expect(res.body.displayName).to.equal('Via Cookie');
    });

    it('accepts a write from the same origin', async () => {
      const token = await freshToken();
      const res = await api.post('/logout', undefined, { ...cookieOf(token), Origin: t.url });
      expect(res.status).to.equal(204);
      expectProblem(await api.as(token).get(`/users/${user.id}`), 401);
    });

    it('accepts a write from an origin in CORS_ORIGINS', async () => {
      const allowed = await startServer({ CORS_ORIGINS: 'https://app.example' });
      try {
        const u = await signUp(allowed.url, 'cors');
        const res = await new Api(allowed.url).post('/logout', undefined, {
          ...cookieOf(u.token),
          Origin: 'https://app.example',
        });
        expect(res.status).to.equal(204);
        expect(res.headers.get('access-control-allow-origin')).to.equal('https://app.example');
      } finally {
        await allowed.close();
      }
    });

    it('does not apply the rule to Bearer tokens', async () => {
      const token = await freshToken();
      expect(
        (await api.as(token).post('/logout', undefined, { Origin: 'https://evil.example' })).status,
      ).to.equal(204);
    });
  });
});
