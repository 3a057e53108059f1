import { expect } from 'chai';
import { direct, send } from '../helpers/chat.ts';
import { Api } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { findNginx, type RunningNginx, startNginx } from '../helpers/nginx.ts';
import { SseReader } from '../helpers/sse.ts';

const nginxBinary = findNginx();

describe('real-time through an nginx reverse proxy with its default buffering', () => {
  // A heartbeat well under nginx's read timeout keeps quiet streams open through it.
  const t = useServer({ users: ['alice', 'bob'], env: { SSE_HEARTBEAT_MS: '2000' } });
  const { alice, bob } = t.users;
  let nginx: RunningNginx;
  let viaProxy: Api;
  let conversationId: string;

  before(async function () {
    if (!nginxBinary) {
      console.log('      (skipped: no nginx binary found at $NGINX, /usr/sbin/nginx or on PATH)');
      this.skip();
    }
    nginx = await startNginx(nginxBinary!, t.url, ['proxy_read_timeout 5s']);
    viaProxy = new Api(nginx.url, bob.token);
    conversationId = await direct(alice, bob);
  });
  after(async () => {
    await nginx?.stop();
  });

  it('delivers SSE events within 1 s of the send', async () => {
    const stream = await SseReader.live(nginx.url, bob.token);
    try {
      expect(stream.headers.get('content-type')).to.match(/^text\/event-stream/);
      for (const body of ['first', 'second', 'third']) {
        const sentAt = Date.now();
        await send(alice, conversationId, body);
        const [event] = await stream.events(1, 1000);
        expect(event!.data.body).to.equal(body);
        expect(Date.now() - sentAt).to.be.below(1000);
      }
    } finally {
      stream.close();
    }
  });

  it('keeps a stream open across 12 s of silence (proxy_read_timeout 5s, heartbeat 2 s), then still delivers', async function () {
    this.timeout(30_000);
    const stream = await SseReader.live(nginx.url, bob.token);
    try {
      const quietUntil = Date.now() + 12_000;
      let heartbeats = 0;
      while (Date.now() < quietUntil) {
        const frame = await stream.nextFrame(() => true, 4000);
        expect(frame.data, 'no event during the silence').to.equal(undefined);
        heartbeats++;
      }
      expect(heartbeats).to.be.at.least(5);
      const sentAt = Date.now();
      const sent = await send(alice, conversationId, 'after the silence');
      const [event] = await stream.events(1, 1000);
      expect(event!.data.id).to.equal(sent.id);
      expect(Date.now() - sentAt).to.be.below(1000);
    } finally {
      stream.close();
    }
  });

  it('completes a long-poll with timeout=3', async () => {
    const { body: start } = await viaProxy.get('/events/poll?timeout=0');
    const began = Date.now();
    const res = await viaProxy.get(`/events/poll?timeout=3&cursor=${start.cursor}`);
    expect(res.status, nginx.errors()).to.equal(200);
    expect(res.body).to.deep.equal({ events: [], cursor: start.cursor });
    expect(Date.now() - began).to.be.within(2900, 4500);
  });

  it('answers a waiting long-poll within 1 s of the send', async () => {
    const { body: start } = await viaProxy.get('/events/poll?timeout=0');
    const waiting = viaProxy.get(`/events/poll?timeout=4&cursor=${start.cursor}`);
    const userId = Number(bob.id);
    while (t.server.parley.deps.hub.connectionsOf(userId) === 0) await new Promise(setImmediate);
    const sentAt = Date.now();
    await send(alice, conversationId, 'polled through nginx');
    const res = await waiting;
    expect(res.body.events.map((e: { data: { body: string } }) => e.data.body)).to.deep.equal([
      'polled through nginx',
    ]);
    expect(Date.now() - sentAt).to.be.below(1000);
  });
});
