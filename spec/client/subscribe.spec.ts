import { expect } from 'chai';
import {
  createApi,
  memoryCursorStore,
  type ParleyEvent,
  type SubscribeOptions,
  type Subscription,
  subscribe,
  type Transport,
} from '../../client/src/index.ts';
import { pruneEvents } from '../../lib/store/events.ts';
import { direct, poll, send } from '../helpers/chat.ts';
import type { TestUser } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { FlakyNetwork } from '../helpers/flaky-network.ts';
import { SseReader } from '../helpers/sse.ts';
import { hubCaughtUp } from '../helpers/statements.ts';
import { Timeline } from '../helpers/timeline.ts';

/** A message as the subscriber saw it, and the transport that brought it. */
interface Received {
  body: string;
  via: Transport | undefined;
}

/**
 * Subscribes `user` through the SDK and records what arrives: message bodies (with the transport
 * in use at the time), transport changes, resets and retries.
 */
function watch(
  baseUrl: string,
  user: TestUser,
  options: Partial<SubscribeOptions> & { network?: FlakyNetwork } = {},
) {
  const { network, ...rest } = options;
  const api = createApi({ baseUrl, token: user.token, ...(network ? { fetch: network.fetch } : {}) });
  const messages = new Timeline<Received>();
  const transports = new Timeline<Transport>();
  const resets = new Timeline<ParleyEvent>();
  const retries = new Timeline<{ status?: number; delayMs: number; at: number }>();
  let unauthorized = 0;
  const subscription: Subscription = subscribe({
    api,
    onEvent: (event) => {
      if (event.type === 'message.created') {
        messages.push({ body: (event.data as { body: string }).body, via: subscription.transport });
      }
    },
    onReset: (event) => {
      resets.push(event);
    },
    onUnauthorized: () => {
      unauthorized++;
    },
    onTransportChange: (t) => transports.push(t),
    onRetry: ({ status, delayMs }) =>
      retries.push({ ...(status !== undefined ? { status } : {}), delayMs, at: Date.now() }),
    ...rest,
  });
  return {
    subscription,
    messages,
    transports,
    resets,
    retries,
    get unauthorized() {
      return unauthorized;
    },
    bodies: () => messages.items.map((m) => m.body),
    /** Resolves once `count` messages have arrived in all. */
    received: (count: number) => messages.until((m) => m.length >= count, `${count} messages`),
    /** Resolves once `transport` is the one in use. */
    using: (transport: Transport) => transports.until(() => subscription.transport === transport, transport),
  };
}

describe('client SDK: subscribe()', () => {
  describe('resuming across transports', () => {
    const t = useServer({ users: ['alice', 'bob'] });
    let conversationId: string;
    before(async () => {
      conversationId = await direct(t.users.alice, t.users.bob);
    });

    it('delivers each event once and in order when a broken stream falls back to long-poll and back', async () => {
      const network = new FlakyNetwork();
      const store = memoryCursorStore();
      const alice = watch(t.url, t.users.alice, {
        network,
        cursorStore: store,
        // Short, so the spec sees the way back to streaming within seconds.
        sseRetryMs: 300,
        pollTimeoutSeconds: 1,
      });
      try {
        await alice.using('sse');
        await send(t.users.bob, conversationId, 'm1');
        await alice.received(1);

        // The network now refuses streams and resets the one open: the next message is sent
        // before any poll has started, across the seam.
        network.streamsBroken = true;
        network.cutStreams();
        await send(t.users.bob, conversationId, 'm2');
        await alice.using('poll');
        await send(t.users.bob, conversationId, 'm3');
        await alice.received(3);

        network.streamsBroken = false;
        await alice.using('sse');
        await send(t.users.bob, conversationId, 'm4');
        await send(t.users.bob, conversationId, 'm5');
        await alice.received(5);

        expect(alice.bodies()).to.deep.equal(['m1', 'm2', 'm3', 'm4', 'm5']);
        expect(alice.messages.items.map((m) => m.via)).to.deep.equal(['sse', 'poll', 'poll', 'sse', 'sse']);
        expect(alice.transports.items).to.deep.equal(['sse', 'poll', 'sse']);
      } finally {
        await alice.subscription.close();
      }
      // The cursor kept is that of the last event: a later subscription starts after m5.
      const next = await poll(t.users.alice, { cursor: store.cursor!, timeout: 0 });
      expect(next.body.events).to.deep.equal([]);
    });

    it('resumes from the shared cursor store when told to stream, then poll, then stream', async () => {
      const store = memoryCursorStore();
      const seen: string[] = [];
      const phase = async (transport: Transport, sendWhileOn: string[], expectCount: number) => {
        const alice = watch(t.url, t.users.alice, { transport, cursorStore: store, pollTimeoutSeconds: 1 });
        try {
          await alice.using(transport);
          for (const body of sendWhileOn) await send(t.users.bob, conversationId, body);
          await alice.received(expectCount);
          expect(alice.messages.items.every((m) => m.via === transport)).to.equal(true);
          seen.push(...alice.bodies());
        } finally {
          await alice.subscription.close();
        }
      };
      // The store starts empty: the first subscription fixes "now" before it streams.
      await phase('sse', ['s1', 's2'], 2);
      // Sent while no one listens: the next transport replays them from the cursor.
      await send(t.users.bob, conversationId, 'offline1');
      await phase('poll', ['p1'], 2);
      await send(t.users.bob, conversationId, 'offline2');
      await phase('sse', ['s3'], 2);
      expect(seen).to.deep.equal(['s1', 's2', 'offline1', 'p1', 'offline2', 's3']);
    });
  });

  describe('stream tickets', () => {
    const t = useServer({ users: ['alice', 'bob'] });

    it('opens each stream with a fresh single-use ticket', async () => {
      const conversationId = await direct(t.users.alice, t.users.bob);
      const network = new FlakyNetwork();
      const alice = watch(t.url, t.users.alice, { network, transport: 'sse', streamTicket: true });
      try {
        await alice.using('sse');
        await send(t.users.bob, conversationId, 't1');
        await alice.received(1);
        // A dropped stream reconnects with a new ticket: the first one is spent.
        network.cutStreams();
        await alice.transports.until((ts) => ts.length === 2, 'a second stream');
        await send(t.users.bob, conversationId, 't2');
        await alice.received(2);
        expect(alice.bodies()).to.deep.equal(['t1', 't2']);
        const tickets = network.requestsTo('/events/ticket');
        expect(tickets.map((r) => r.status)).to.deep.equal([200, 200]);
        expect(network.requestsTo('/events').map((r) => r.status)).to.deep.equal([200, 200]);
      } finally {
        await alice.subscription.close();
      }
    });
  });

  describe('a cursor older than the retention', () => {
    const t = useServer({ users: ['alice', 'bob'] });

    for (const transport of ['sse', 'poll'] as const) {
      it(`calls the refetch hook once, then goes on from now (${transport})`, async () => {
        const conversationId = await direct(t.users.alice, t.users.bob);
        const { cursor: old } = (await poll(t.users.alice, { timeout: 0 })).body;
        await send(t.users.bob, conversationId, 'expired');
        // Everything logged so far is now older than the retention.
        // Retention prunes what the node fanned out long ago: a poll at the node's fan-out position
        // reads nothing, so pruning the send before the hub reads it would hide the gap (seen on CI).
        await hubCaughtUp(t.server);
        await pruneEvents(t.server.parley.deps.db, new Date(Date.now() + 60_000).toISOString());

        const store = memoryCursorStore(old);
        const alice = watch(t.url, t.users.alice, { transport, cursorStore: store, pollTimeoutSeconds: 1 });
        try {
          await alice.resets.until((r) => r.length === 1, 'a reset');
          expect(alice.resets.items[0]!.type).to.equal('reset');
          await send(t.users.bob, conversationId, 'fresh');
          await alice.received(1);
          expect(alice.bodies()).to.deep.equal(['fresh']);
          expect(alice.resets.items).to.have.length(1);
        } finally {
          await alice.subscription.close();
        }
      });
    }
  });

  describe('refused for the per-user cap (429)', () => {
    const t = useServer({ users: ['alice', 'bob'], env: { STREAMS_PER_USER: '1' } });

    it('waits as long as Retry-After asks before trying again, then streams', async () => {
      const conversationId = await direct(t.users.alice, t.users.bob);
      const { cursor } = (await poll(t.users.alice, { timeout: 0 })).body;
      // Another tab of Alice's holds her only stream.
      const otherTab = await SseReader.live(t.url, t.users.alice.token);
      const network = new FlakyNetwork();
      const alice = watch(t.url, t.users.alice, {
        network,
        transport: 'sse',
        cursorStore: memoryCursorStore(cursor),
      });
      try {
        await alice.retries.until((r) => r.length === 1, 'a retry');
        otherTab.close();
        await alice.using('sse');
        const [refused, accepted, ...more] = network.requestsTo('/events');
        expect(refused!.status).to.equal(429);
        expect(accepted!.status).to.equal(200);
        expect(more).to.deep.equal([]);
        // The server says Retry-After: 5; the client adds at most a tenth as jitter.
        const [retry] = alice.retries.items;
        expect(retry!.status).to.equal(429);
        expect(retry!.delayMs).to.be.within(5000, 5500);
        expect(accepted!.sentAt - refused!.answeredAt).to.be.at.least(5000);

        await send(t.users.bob, conversationId, 'after the wait');
        await alice.received(1);
        expect(alice.bodies()).to.deep.equal(['after the wait']);
      } finally {
        otherTab.close();
        await alice.subscription.close();
      }
    });
  });

  describe('a revoked session (401)', () => {
    const t = useServer({ users: ['bob'] });

    for (const transport of ['sse', 'poll'] as const) {
      it(`stops and calls onUnauthorized once when the session is logged out (${transport})`, async () => {
        const carol = await t.signUp('carol');
        const network = new FlakyNetwork();
        // A poll counts as in use once it has answered: a short one answers soon.
        const watched = watch(t.url, carol, { network, transport, pollTimeoutSeconds: 1 });
        await watched.using(transport);
        const logout = await carol.api.post('/logout');
        expect(logout.status).to.equal(204);

        expect(await watched.subscription.done).to.equal('unauthorized');
        expect(watched.unauthorized).to.equal(1);
        expect(watched.subscription.transport).to.equal(undefined);
        const last = network.requests.at(-1)!;
        expect(last.status).to.equal(401);
        // Stopped means no more requests: the one that got the 401 was the last.
        const count = network.requests.length;
        await new Promise((resolve) => setImmediate(resolve));
        expect(network.requests.length).to.equal(count);
      });
    }
  });

  describe('failures', () => {
    const t = useServer({ users: ['alice', 'bob'] });

    it('backs off with growing, jittered waits while the network is down, then catches up', async () => {
      const conversationId = await direct(t.users.alice, t.users.bob);
      const network = new FlakyNetwork();
      const alice = watch(t.url, t.users.alice, {
        network,
        transport: 'poll',
        pollTimeoutSeconds: 1,
        backoff: { initialMs: 20, maxMs: 200 },
      });
      try {
        await alice.using('poll');
        network.down = true;
        await alice.retries.until((r) => r.length >= 6, 'six retries');
        await send(t.users.bob, conversationId, 'while down');
        network.down = false;
        await alice.received(1);
        expect(alice.bodies()).to.deep.equal(['while down']);
        // The n-th wait is at most initial * 2^n, capped.
        alice.retries.items.slice(0, 6).forEach((retry, i) => {
          expect(retry.delayMs).to.be.within(0, Math.min(200, 20 * 2 ** (i + 1)));
        });
      } finally {
        await alice.subscription.close();
      }
    });

    it('stops with the handler’s error and leaves that event to be delivered again', async () => {
      const conversationId = await direct(t.users.alice, t.users.bob);
      const store = memoryCursorStore((await poll(t.users.alice, { timeout: 0 })).body.cursor);
      const handled: string[] = [];
      const failing = subscribe({
        api: createApi({ baseUrl: t.url, token: t.users.alice.token }),
        cursorStore: store,
        onEvent: (event) => {
          const { body } = event.data as { body: string };
          if (body === 'poison') throw new Error('cannot handle this one');
          handled.push(body);
        },
      });
      await send(t.users.bob, conversationId, 'fine');
      await send(t.users.bob, conversationId, 'poison');
      let error: Error | undefined;
      await failing.done.catch((err: Error) => {
        error = err;
      });
      expect(error?.message).to.match(/cannot handle this one/);
      expect(handled).to.deep.equal(['fine']);

      const again = watch(t.url, t.users.alice, { cursorStore: store });
      try {
        await again.received(1);
        expect(again.bodies()).to.deep.equal(['poison']);
      } finally {
        await again.subscription.close();
      }
    });
  });
});
