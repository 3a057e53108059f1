import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { expect } from 'chai';
import { direct, poll, send } from '../helpers/chat.ts';
import { Api, signUp, type TestUser } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { SseReader } from '../helpers/sse.ts';

/** Opens GET /events on a raw socket and resolves once the stream is live; the caller decides when to read. */
async function rawStream(url: string, token: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await once(socket, 'connect');
  socket.write(
    `GET /events HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAccept: text/event-stream\r\nAuthorization: Bearer ${token}\r\n\r\n`,
  );
  let text = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes(': live\n\n')) {
        socket.off('data', onData);
        socket.pause();
        resolve();
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed early: ${text}`)));
  });
  return socket;
}

/** Resolves once `predicate` holds, re-checking on every turn of the event loop. */
async function until(predicate: () => boolean, what: string, waitMs = 10_000): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('event delivery limits', () => {
  describe('STREAMS_PER_USER', () => {
    const t = useServer({ users: ['alice'], env: { STREAMS_PER_USER: '2' } });
    const { alice } = t.users;

    it('refuses streams and polls beyond the cap with 429 problem+json and Retry-After, and frees a slot on close', async () => {
      const first = await SseReader.live(t.url, alice.token);
      const second = await SseReader.live(t.url, alice.token);
      try {
        const third = await SseReader.open(t.url, '/events', alice.token);
        expect(third.status).to.equal(429);
        expect(third.headers.get('content-type')).to.match(/^application\/problem\+json/);
        expect(third.problem).to.include({ status: 429 });
        expect(Number(third.headers.get('retry-after'))).to.be.above(0);
        await third.closed;
        const polled = await poll(alice, { timeout: 0 });
        expect(polled.status).to.equal(429);
        expect(polled.headers.get('retry-after')).to.be.a('string');

        first.close();
        const userId = Number(alice.id);
        await until(
          () => t.server.parley.deps.hub.connectionsOf(userId) < 2,
          'the closed stream to be released',
        );
        expect((await poll(alice, { timeout: 0 })).status).to.equal(200);
      } finally {
        first.close();
        second.close();
      }
    });

    it('releases the slot of a waiting poll whose client goes away', async () => {
      const userId = Number(alice.id);
      await until(
        () => t.server.parley.deps.hub.connectionsOf(userId) === 0,
        'earlier streams to be released',
      );
      const abort = new AbortController();
      const waiting = fetch(`${t.url}/events/poll?timeout=30`, {
        headers: { Authorization: `Bearer ${alice.token}` },
        signal: abort.signal,
      }).catch((err: Error) => err);
      await until(() => t.server.parley.deps.hub.connectionsOf(userId) === 1, 'the poll to wait');
      abort.abort();
      expect(await waiting).to.be.instanceOf(Error);
      await until(
        () => t.server.parley.deps.hub.connectionsOf(userId) === 0,
        'the abandoned poll to be released',
      );
    });
  });

  describe('a slow consumer', () => {
    const t = useServer({
      users: ['alice', 'bob'],
      env: { STREAM_BUFFER_BYTES: String(64 * 1024), MESSAGES_PER_WINDOW: '0' },
    });
    const { alice, bob } = t.users;

    it('is not confused with a client resuming from a backlog larger than STREAM_BUFFER_BYTES', async () => {
      const conversationId = await direct(alice, bob);
      const { body: start } = await poll(bob, { timeout: 0 });
      const big = '€'.repeat(3990);
      const count = 40; // about 480 KB of frames, over seven times the bound
      for (let i = 0; i < count; i++) await send(alice, conversationId, `${i} ${big}`);
      const stream = await SseReader.open(t.url, `/events?cursor=${start.cursor}`, bob.token);
      try {
        const events = await stream.events(count);
        expect(events.map((e) => Number.parseInt(e.data.body, 10))).to.deep.equal(
          Array.from({ length: count }, (_, i) => i),
        );
      } finally {
        stream.close();
      }
    });

    it('is cut off when it stops reading during a replay while live events pile up', async function () {
      this.timeout(60_000);
      const conversationId = await direct(alice, bob);
      const { body: start } = await poll(bob, { timeout: 0 });
      const big = '€'.repeat(3990);
      // A backlog bigger than the kernel's socket buffers, so the replay stalls on the silent client.
      for (let sent = 0; sent < 480; sent += 16) {
        await Promise.all(Array.from({ length: 16 }, () => send(alice, conversationId, big)));
      }
      const { hostname, port } = new URL(t.url);
      const socket = connect(Number(port), hostname);
      await once(socket, 'connect');
      socket.pause();
      const closed = once(socket, 'close');
      socket.write(
        `GET /events?cursor=${start.cursor} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer ${bob.token}\r\n\r\n`,
      );
      const userId = Number(bob.id);
      await until(() => t.server.parley.deps.hub.connectionsOf(userId) === 1, 'the stream to open');
      try {
        let live = 0;
        while (t.server.parley.deps.hub.connectionsOf(userId) === 1) {
          if (live > 200) throw new Error('the stalled client was never cut off');
          await send(alice, conversationId, big);
          live++;
        }
        socket.resume();
        await closed;
      } finally {
        socket.destroy();
      }
    });

    it('is cut off once over STREAM_BUFFER_BYTES while other subscribers keep receiving', async function () {
      // The kernel's socket buffers (megabytes on loopback) fill before Node's does: it takes a few
      // hundred large messages.
      this.timeout(60_000);
      const conversationId = await direct(alice, bob);
      const slow = await rawStream(t.url, bob.token);
      const fast = await SseReader.live(t.url, bob.token);
      const closed = once(slow, 'close');
      const userId = Number(bob.id);
      // 4000 three-byte characters: about 12 KB per event.
      const big = '€'.repeat(4000);
      let sent = 0;
      let received = 0;
      try {
        // The kernel's socket buffers fill first; then Node's grows until the bound trips.
        while (t.server.parley.deps.hub.connectionsOf(userId) === 2) {
          if (sent > 3000) throw new Error('the slow consumer was never cut off');
          // Four at a time, under the bound together: sends that commit together reach a stream as
          // one burst, and a burst over the bound cuts even a reader that keeps up.
          await Promise.all(Array.from({ length: 4 }, () => send(alice, conversationId, big)));
          sent += 4;
          // The fast one reads each batch before the next is sent, so it stays fast however quick
          // the sends are: it shares this process with them.
          for (let i = 0; i < 4; i++) {
            await fast.nextEvent();
            received++;
          }
        }
        await send(alice, conversationId, 'after the cut');
        sent++;
        for (;;) {
          const event = await fast.nextEvent();
          received++;
          if (event.data.body === 'after the cut') break;
        }
        expect(received).to.equal(sent);
        // The slow client, reading again, finds its connection closed.
        slow.resume();
        await closed;
      } finally {
        fast.close();
        slow.destroy();
      }
    });
  });

  describe("Node's HTTP server timeouts", () => {
    let server: TestServer;
    let alice: TestUser;
    let bob: TestUser;
    before(async () => {
      // Users first, on default timeouts: password hashing on a busy machine can outlast a 1 s
      // idle-socket timeout. Then the same database again, with every timeout at 1 s.
      const setup = await startServer();
      const users = [await signUp(setup.url, 'alice'), await signUp(setup.url, 'bob')];
      await setup.stop();
      server = await startServer(
        {
          ...setup.env,
          HTTP_REQUEST_TIMEOUT_MS: '1000',
          HTTP_HEADERS_TIMEOUT_MS: '1000',
          HTTP_KEEP_ALIVE_TIMEOUT_MS: '1000',
          HTTP_IDLE_SOCKET_TIMEOUT_MS: '1000',
          // No heartbeat within the spec: the stream must survive on its own, not by traffic.
          SSE_HEARTBEAT_MS: '60000',
        },
        setup.dir,
      );
      [alice, bob] = users.map((u) => ({ ...u, api: new Api(server.url, u.token) })) as [TestUser, TestUser];
    });
    after(() => server.close());

    it('are in force: a request whose headers never finish is cut', async () => {
      const { hostname, port } = new URL(server.url);
      const socket = connect(Number(port), hostname);
      await once(socket, 'connect');
      socket.write('GET /health HTTP/1.1\r\nHost: x\r\n');
      const began = Date.now();
      socket.resume();
      await once(socket, 'close');
      expect(Date.now() - began).to.be.below(5000);
    });

    it('never cut a live stream or a waiting poll', async () => {
      const conversationId = await direct(alice, bob);
      const stream = await SseReader.live(server.url, bob.token);
      try {
        // A poll that waits 3 s: three times every timeout, and the clock for the stream too.
        const began = Date.now();
        const waited = await poll(bob, { timeout: 3 });
        expect(waited.status).to.equal(200);
        expect(waited.body.events).to.deep.equal([]);
        expect(Date.now() - began).to.be.at.least(2900);
        expect(stream.isEnded).to.equal(false);
        const sent = await send(alice, conversationId, 'still streaming');
        const [event] = await stream.events(1);
        expect(event!.data.id).to.equal(sent.id);
      } finally {
        stream.close();
      }
    });
  });
});
