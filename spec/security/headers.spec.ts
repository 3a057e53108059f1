import { connect } from 'node:net';
import { expect } from 'chai';
import { Api, signUp } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

// Cookie flags, CORS, helmet's headers and the slow-client timeouts. The CSRF rule for
// cookie-authenticated writes is specified in spec/routes/auth.spec.ts ("with the session cookie").

const PASSWORD = 'correct horse battery';

async function loginCookie(server: TestServer, headers: Record<string, string> = {}): Promise<string> {
  const user = await signUp(server.url, 'cookie');
  const res = await new Api(server.url).post(
    '/login',
    { username: user.username, password: PASSWORD },
    headers,
  );
  expect(res.status, res.text).to.equal(200);
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('parley_session='));
  expect(cookie, 'a session cookie').to.be.a('string');
  return cookie!;
}

describe('the session cookie', () => {
  it('is HttpOnly and SameSite=Lax, and not Secure by default', async () => {
    const server = await startServer();
    try {
      const cookie = await loginCookie(server);
      expect(cookie).to.match(/;\s*httponly/i);
      expect(cookie).to.match(/;\s*samesite=lax/i);
      expect(cookie).to.not.match(/;\s*secure/i);
      expect(cookie).to.match(/;\s*path=\//i);
    } finally {
      await server.close();
    }
  });

  it('is Secure when COOKIE_SECURE is set, even where TLS ends at a proxy Parley does not trust', async () => {
    const server = await startServer({ COOKIE_SECURE: 'true' });
    try {
      const cookie = await loginCookie(server);
      expect(cookie).to.match(/;\s*secure/i);
      expect(cookie).to.match(/;\s*httponly/i);
      // Logging out clears the cookie with the same flags (this answered 500 before the fix).
      const user = await signUp(server.url, 'logout');
      const out = await user.api.post('/logout');
      expect(out.status, out.text).to.equal(204);
      expect(out.headers.getSetCookie().join()).to.match(/parley_session=;.*secure/i);
    } finally {
      await server.close();
    }
  });

  it('is Secure behind a trusted TLS proxy (X-Forwarded-Proto: https with TRUST_PROXY)', async () => {
    const server = await startServer({ TRUST_PROXY: 'true' });
    try {
      const cookie = await loginCookie(server, { 'X-Forwarded-Proto': 'https' });
      expect(cookie).to.match(/;\s*secure/i);
    } finally {
      await server.close();
    }
  });
});

describe('CORS', () => {
  const t = useServer({ env: { CORS_ORIGINS: 'https://app.example, https://admin.example' } });

  const preflight = (origin: string) =>
    fetch(`${t.url}/conversations`, {
      method: 'OPTIONS',
      headers: {
        Origin: origin,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type, authorization',
      },
    });

  it('answers an allowed origin’s preflight with that origin and credentials', async () => {
    const res = await preflight('https://app.example');
    expect(res.status).to.be.oneOf([200, 204]);
    expect(res.headers.get('access-control-allow-origin')).to.equal('https://app.example');
    expect(res.headers.get('access-control-allow-credentials')).to.equal('true');
    expect(res.headers.get('access-control-allow-methods')).to.match(/POST/);
    expect(res.headers.get('vary')).to.match(/origin/i);
  });

  it('gives an allowed origin’s request the CORS headers, exposing Location and Retry-After', async () => {
    const res = await fetch(`${t.url}/health`, { headers: { Origin: 'https://admin.example' } });
    expect(res.headers.get('access-control-allow-origin')).to.equal('https://admin.example');
    expect(res.headers.get('access-control-allow-credentials')).to.equal('true');
    expect(res.headers.get('access-control-expose-headers'))
      .to.match(/Location/)
      .and.match(/Retry-After/);
  });

  it('gives any other origin no CORS headers at all', async () => {
    for (const origin of [
      'https://evil.example',
      'https://app.example.evil.example',
      'null',
      'http://app.example',
    ]) {
      const pre = await preflight(origin);
      expect(pre.headers.get('access-control-allow-origin'), origin).to.equal(null);
      expect(pre.headers.get('access-control-allow-credentials'), origin).to.equal(null);
      const res = await fetch(`${t.url}/health`, { headers: { Origin: origin } });
      expect(res.headers.get('access-control-allow-origin'), origin).to.equal(null);
    }
  });

  it('gives no CORS headers when CORS_ORIGINS is empty', async () => {
    const closed = await startServer();
    try {
      const res = await fetch(`${closed.url}/health`, { headers: { Origin: 'https://app.example' } });
      expect(res.headers.get('access-control-allow-origin')).to.equal(null);
    } finally {
      await closed.close();
    }
  });
});

describe('security headers', () => {
  const t = useServer();

  it('sends helmet’s headers on JSON answers and on problems', async () => {
    for (const path of ['/health', '/no/such/path']) {
      const res = await fetch(t.url + path);
      expect(res.headers.get('x-content-type-options'), path).to.equal('nosniff');
      expect(res.headers.get('x-frame-options'), path).to.equal('SAMEORIGIN');
      expect(res.headers.get('strict-transport-security'), path).to.match(/max-age=\d+/);
      expect(res.headers.get('referrer-policy'), path).to.equal('no-referrer');
      expect(res.headers.get('cross-origin-opener-policy'), path).to.equal('same-origin');
      expect(res.headers.get('cross-origin-resource-policy'), path).to.equal('same-origin');
      expect(res.headers.get('x-dns-prefetch-control'), path).to.equal('off');
      expect(res.headers.get('x-powered-by'), path).to.equal(null);
    }
  });
});

/** A raw socket that sends `chunks` slowly and resolves with what the server answered (or that it closed). */
function slowClient(port: number, first: string): Promise<{ text: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1', () => socket.write(first));
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d) => {
      text += d;
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve({ text, closedAfterMs: Date.now() - started }));
    // Bounded: the spec fails rather than waits forever if the server never cuts us off.
    setTimeout(() => {
      socket.destroy();
      reject(new Error('the server did not cut off the slow client'));
    }, 10_000).unref();
  });
}

describe('slow clients', () => {
  const t = useServer({
    env: {
      HTTP_HEADERS_TIMEOUT_MS: '1000',
      HTTP_REQUEST_TIMEOUT_MS: '1500',
      SSE_HEARTBEAT_MS: '300',
    },
  });

  for (const [what, request] of [
    ['its headers (headersTimeout)', 'GET /health HTTP/1.1\r\nHost: x\r\n'],
    [
      'its body (requestTimeout)',
      'POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user',
    ],
  ] as const) {
    it(`cuts off a client that never finishes ${what}`, async () => {
      const { text, closedAfterMs } = await slowClient(t.server.parley.port, request);
      expect(closedAfterMs).to.be.below(5000);
      if (text) expect(text).to.match(/^HTTP\/1\.1 408/);
    });
  }

  it('keeps an SSE stream open past the request timeout', async () => {
    const user = await t.signUp('sse');
    const abort = new AbortController();
    const res = await fetch(`${t.url}/events`, {
      headers: { Authorization: `Bearer ${user.token}`, Accept: 'text/event-stream' },
      signal: abort.signal,
    });
    const reader = res.body!.getReader();
    const started = Date.now();
    let heartbeats = 0;
    // Heartbeats keep arriving well after the 1.5 s request timeout (bounded: at most 100 reads).
    for (let reads = 0; Date.now() - started < 3000 && reads < 100; reads++) {
      const chunk = await reader.read();
      expect(chunk.done, 'the stream ended').to.equal(false);
      heartbeats += (new TextDecoder().decode(chunk.value).match(/^:\n/gm) ?? []).length;
    }
    expect(Date.now() - started).to.be.at.least(3000);
    expect(heartbeats).to.be.above(3);
    abort.abort();
    await reader.cancel().catch(() => {});
  });

  it('lets a long-poll wait longer than the request timeout', async () => {
    const user = await t.signUp('poll');
    const started = Date.now();
    const res = await user.api.get('/events/poll?timeout=3');
    expect(res.status).to.equal(200);
    expect(res.body.events).to.deep.equal([]);
    expect(Date.now() - started).to.be.at.least(2900);
  });
});
