import { connect } from 'node:net';
import { expect } from 'chai';
import { Api } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';

/** Sends raw bytes and resolves with whatever came back before the server closed or answered. */
function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(bytes));
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d) => {
      text += d;
    });
    // A reset is an acceptable way to refuse; the server must simply survive it.
    socket.on('error', () => resolve(text));
    socket.on('close', () => resolve(text));
    setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer and no close within 5 s'));
    }, 5000).unref();
  });
}

describe('input limits', () => {
  const t = useServer({ users: ['inputa', 'inputb'] });
  const { inputa: alice, inputb: bob } = t.users;
  let conv: string;
  before(async () => {
    conv = (await alice.api.post('/conversations', { participantIds: [bob.id] })).body.id;
  });

  describe('headers', () => {
    it('answers headers over 16 KiB with 431 or a close, and keeps serving', async () => {
      const answer = await rawRequest(
        t.server.parley.port,
        `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      );
      if (answer) expect(answer).to.match(/^HTTP\/1\.1 431/);
      const many = Array.from({ length: 2000 }, (_, i) => `X-H${i}: ${'b'.repeat(10)}\r\n`).join('');
      const second = await rawRequest(t.server.parley.port, `GET /health HTTP/1.1\r\nHost: x\r\n${many}\r\n`);
      if (second) expect(second).to.match(/^HTTP\/1\.1 431/);
      expect((await new Api(t.url).get('/health')).status).to.equal(200);
    });

    it('answers a huge bearer token below the header limit with 401', async () => {
      const res = await new Api(t.url).get('/conversations', {
        Authorization: `Bearer ${'A'.repeat(12_000)}`,
      });
      expect(res.status).to.equal(401);
    });
  });

  describe('query parameters', () => {
    const cases: [string, number][] = [
      ['/conversations?limit=0', 400],
      ['/conversations?limit=201', 400],
      ['/conversations?limit=abc', 400],
      ['/conversations?limit=1.5', 400],
      ['/conversations?limit=200', 200],
      ['/conversations?limit=1&limit=2', 400],
      ['/conversations?cursor=%FF%FE', 400],
      ['/conversations?unknown=1', 400],
      [`/users?q=${'x'.repeat(65)}`, 400],
      ['/users?limit=-1', 400],
      [`/events/poll?cursor=${'9'.repeat(41)}`, 400],
      ['/events/poll?cursor=not-a-cursor', 400],
      ['/events/poll?timeout=abc', 400],
      ['/events/poll?timeout=Infinity', 400],
      ['/events/poll?timeout=-5', 200],
    ];
    for (const [path, status] of cases) {
      it(`answers ${path.slice(0, 60)} with ${status}`, async () => {
        const res = await alice.api.get(path);
        expect(res.status, res.text).to.equal(status);
      });
    }

    it('clamps a negative long-poll timeout to 0 and answers at once', async () => {
      const started = Date.now();
      const res = await alice.api.get('/events/poll?timeout=-100');
      expect(res.status).to.equal(200);
      expect(Date.now() - started).to.be.below(1000);
    });

    it('answers message paging with out-of-range ids with 400', async () => {
      for (const q of ['before=0', 'before=-1', 'after=1e3', `after=${'9'.repeat(20)}`, 'limit=201']) {
        const res = await alice.api.get(`/conversations/${conv}?${q}`);
        expect(res.status, `${q}: ${res.text}`).to.equal(400);
      }
    });
  });

  describe('bodies and arrays', () => {
    it('answers a body over 64 KiB with 413 (over 128 KB where a message is sent: an encrypted one is up to 64 KiB of ciphertext)', async () => {
      const res = await alice.api.post('/conversations', {
        participantIds: ['1'],
        title: 'x'.repeat(70_000),
      });
      expect(res.status).to.equal(413);
      const message = await alice.api.post(`/conversations/${conv}/message`, { body: 'x'.repeat(140_000) });
      expect(message.status).to.equal(413);
      const under = await alice.api.post(`/conversations/${conv}/message`, { body: 'x'.repeat(70_000) });
      expect(under.status, "under the route's limit: validated, too long a body").to.equal(400);
    });

    it('answers more participants than the cap with 400, without looking them up', async () => {
      const ids = Array.from({ length: 1001 }, (_, i) => String(i + 1));
      const res = await alice.api.post('/conversations', { participantIds: ids, title: 'big' });
      expect(res.status, res.text).to.equal(400);
    });

    it('answers an over-long participant id with 400', async () => {
      const res = await alice.api.post('/conversations', { participantIds: ['1'.repeat(33)] });
      expect(res.status).to.equal(400);
    });

    it('answers a message over 4000 characters with 400, counting characters, not UTF-16 units', async () => {
      const emoji = '😀'.repeat(4000); // 8000 UTF-16 units, 4000 characters
      expect((await alice.api.post(`/conversations/${conv}/message`, { body: emoji })).status).to.equal(201);
      const over = await alice.api.post(`/conversations/${conv}/message`, { body: `${emoji}x` });
      expect(over.status).to.equal(400);
    });
  });

  describe('Unicode', () => {
    it('stores message bodies exactly as sent: emoji, RTL, combining marks, both normal forms, spacing', async () => {
      const bodies = [
        '👩‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 👍🏽 skin tone',
        'مرحبا بالعالم — שלום עולם',
        '\u202eevil.exe\u202c and \u200fRTL mark',
        'e\u0301 (NFD) vs \u00e9 (NFC)',
        'Z̤̈a̴̢l̸̨g̵o̶',
        '  leading and trailing spaces, a tab\tand\r\nlines  ',
        '𝕏 outside the BMP, \u{10FFFD} private use',
        '\u0007 bell and \u001b[31m escape',
      ];
      const sentIds: string[] = [];
      for (const body of bodies) {
        const res = await alice.api.post(`/conversations/${conv}/message`, { body });
        expect(res.status, res.text).to.equal(201);
        expect(res.body.body).to.equal(body);
        sentIds.push(res.body.id);
      }
      const history = await bob.api.get(`/conversations/${conv}?limit=200`);
      const stored = new Map(history.body.messages.map((m: { id: string; body: string }) => [m.id, m.body]));
      for (const [i, id] of sentIds.entries()) {
        expect(Buffer.from(stored.get(id) as string)).to.deep.equal(Buffer.from(bodies[i]!));
      }
    });

    it('rejects a message body that is not well-formed Unicode (a lone surrogate) or holds NUL with 400', async () => {
      for (const raw of ['{"body":"a\\ud800b"}', '{"body":"\\udc00"}', '{"body":"a\\u0000b"}']) {
        const res = await alice.api.post(`/conversations/${conv}/message`, raw, {
          'Content-Type': 'application/json',
        });
        expect(res.status, `${raw}: ${res.text}`).to.equal(400);
      }
    });

    it('accepts usernames only in [A-Za-z0-9_.-], so look-alike names cannot be registered', async () => {
      const api = new Api(t.url);
      for (const username of [
        'ａｌｉｃｅ',
        'alicé',
        'al ice',
        'аlice' /* Cyrillic а */,
        'ali\u200bce',
        'alice\u0000',
      ]) {
        const res = await api.post('/register', { username, password: 'long enough pass' });
        expect(res.status, `${JSON.stringify(username)}: ${res.text}`).to.equal(400);
      }
    });

    it('treats usernames case-insensitively for uniqueness and login', async () => {
      const api = new Api(t.url);
      expect(
        (await api.post('/register', { username: 'Case.User', password: 'long enough pass' })).status,
      ).to.equal(201);
      expect(
        (await api.post('/register', { username: 'case.user', password: 'long enough pass' })).status,
      ).to.equal(409);
      expect(
        (await api.post('/login', { username: 'CASE.USER', password: 'long enough pass' })).status,
      ).to.equal(200);
    });

    it('rejects control and invisible format characters in display names with 400', async () => {
      for (const displayName of [
        'a\u0000b',
        'bell\u0007',
        'new\nline',
        'ta\tb',
        '\u202eevil',
        'zero\u200bwidth',
        '\u2028',
      ]) {
        const res = await alice.api.put(`/users/${alice.id}`, { displayName });
        expect(res.status, `${JSON.stringify(displayName)}: ${res.text}`).to.equal(400);
      }
    });

    it('stores display names NFC-normalized and trimmed, keeping emoji and RTL text', async () => {
      const res = await alice.api.put(`/users/${alice.id}`, { displayName: '  Rene\u0301 🎉 رينيه ' });
      expect(res.status, res.text).to.equal(200);
      expect(res.body.displayName).to.equal('Ren\u00e9 🎉 رينيه');
    });
  });
});
