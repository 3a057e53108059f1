import net from 'node:net';
import { expect } from 'chai';
import { direct, send } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';

const HEARTBEAT_MS = 1000;

describe('an SSE replay whose client stops reading (issue 12, item 2)', function () {
  this.timeout(60_000);
  const t = useServer({ users: ['alice', 'bob'], env: { SSE_HEARTBEAT_MS: String(HEARTBEAT_MS) } });

  it('is cut off once the client has taken nothing for a heartbeat period, and lets go of its backlog', async () => {
    const { alice, bob } = t.users;
    const id = await direct(alice, bob);
    const cursor = (await bob.api.get('/conversations')).body.eventCursor;
    // A backlog far beyond what the kernel's socket buffers take: the replay must wait on the client.
    const body = 'x'.repeat(3_900);
    for (let i = 0; i < 1500; i++) await send(alice, id, body);
    const socket = net.connect(new URL(t.url).port as unknown as number, '127.0.0.1');
    socket.on('error', () => {});
    socket.write(
      `GET /events?cursor=${cursor} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${bob.token}\r\nAccept: text/event-stream\r\n\r\n`,
    );
    socket.pause(); // and never reads
    try {
      const { hub } = t.server.parley.deps;
      const opened = Date.now();
      while (hub.connectionsOf(Number(bob.id)) === 0 && Date.now() - opened < 5000) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(hub.connectionsOf(Number(bob.id)), 'the stream opened').to.equal(1);
      const deadline = Date.now() + 10 * HEARTBEAT_MS;
      while (hub.connectionsOf(Number(bob.id)) > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(hub.connectionsOf(Number(bob.id)), 'the stalled stream is still held').to.equal(0);
    } finally {
      socket.destroy();
    }
  });
});
