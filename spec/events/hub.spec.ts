import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { readFeed, startingPoint } from '../../lib/events/feed.ts';
import { EventHub, type Subscriber } from '../../lib/events/hub.ts';
import { readConsistently } from '../../lib/events/log.ts';
import type { WireEvent } from '../../lib/events/wire.ts';
import { selectLogBounds } from '../../lib/store/events.ts';
import { encodeCursor, isAfter, type Position } from '../../lib/store/position.ts';
import { Changes } from '../helpers/changes.ts';
import { direct, group, send } from '../helpers/chat.ts';
import { signUp } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';

// The node's EventHub (lib/events/hub.ts), driven directly: subscribers here are plain objects on
// the running server's hub, and the events come from real sends into the real database.

/** A subscriber that keeps what it is handed, and can cut itself off like a stream that fell behind. */
class Recorder implements Subscriber {
  readonly events: WireEvent[] = [];
  closedFor: 'revoked' | 'shutdown' | null = null;
  unsubscribe: () => void = () => {};
  private readonly changes = new Changes();

  constructor(
    readonly userId: number,
    private readonly onDeliver: (self: Recorder, event: WireEvent) => void = () => {},
    readonly sessionId: string = randomUUID(),
  ) {}

  deliver(event: WireEvent): void {
    this.events.push(event);
    this.onDeliver(this, event);
    this.changes.notify();
  }

  close(reason: 'revoked' | 'shutdown'): void {
    this.closedFor = reason;
    this.changes.notify();
  }

  /** The bodies of the messages handed over so far, in order. */
  get bodies(): string[] {
    return this.events.filter((e) => e.type === 'message.created').map((e) => JSON.parse(e.json).data.body);
  }

  until(done: () => boolean, what: string): Promise<void> {
    return this.changes.until(done, what);
  }
}

const idOf = (e: WireEvent): string => JSON.parse(e.json).id;

describe('the event hub', () => {
  const t = useServer({ users: ['alice', 'bob', 'carol'] });
  const { alice, bob, carol } = t.users;
  const hub = () => t.server.parley.deps.hub;
  const listen = (recorder: Recorder): Recorder => {
    recorder.unsubscribe = hub().subscribe(recorder);
    return recorder;
  };
  const recorders: Recorder[] = [];
  const recorder = (...args: ConstructorParameters<typeof Recorder>): Recorder => {
    const r = listen(new Recorder(...args));
    recorders.push(r);
    return r;
  };
  afterEach(() => {
    for (const r of recorders.splice(0)) r.unsubscribe();
  });

  it('hands every event to the subscribers of its audience, once each and in log order', async () => {
    const bobs = recorder(Number(bob.id));
    const carols = recorder(Number(carol.id));
    const id = await direct(alice, bob);
    const bodies = Array.from({ length: 20 }, (_, i) => `concurrent ${i}`);
    await Promise.all(bodies.map((body) => send(alice, id, body)));
    await bobs.until(() => bobs.bodies.length >= bodies.length, 'bob to have every message');
    expect([...bobs.bodies].sort()).to.deep.equal([...bodies].sort());
    const positions = bobs.events.map((e) => e.position!);
    for (let i = 1; i < positions.length; i++) {
      expect(isAfter(positions[i]!, positions[i - 1]!), `event ${i} after event ${i - 1}`).to.equal(true);
    }
    // None of those were carol's to hear; her own conversation's message is.
    await send(bob, await direct(bob, carol), 'to carol');
    await carols.until(() => carols.bodies.length >= 1, 'carol to have her message');
    expect(carols.bodies).to.deep.equal(['to carol']);
  });

  it('loses and repeats nothing where a replay hands over to live, when it subscribes before it replays', async () => {
    const { db } = t.server.parley.deps;
    const id = await direct(alice, bob);
    const { after: start } = await startingPoint(db, undefined);
    const count = 40;
    // Sends keep committing while the subscriber joins and replays: the seam falls among them.
    let someSent!: () => void;
    const joining = new Promise<void>((resolve) => {
      someSent = resolve;
    });
    const sending = (async () => {
      for (let i = 0; i < count; i++) {
        await send(alice, id, `seam ${i}`);
        if (i === 4) someSent();
      }
    })();
    await joining;
    const live = recorder(Number(bob.id));
    const replayed = await readFeed(db, Number(bob.id), start, { limit: 1000, presenceGroupLimit: 100 });
    await sending;
    await live.until(() => live.bodies.includes(`seam ${count - 1}`), 'the last message live');

    const last = replayed.at(-1)?.position ?? start;
    const seen = [...replayed, ...live.events.filter((e) => isAfter(e.position!, last))].map(idOf);
    const log = (await readFeed(db, Number(bob.id), start, { limit: 1000, presenceGroupLimit: 100 })).map(
      idOf,
    );
    expect(live.events.length, 'events arrived live after the subscription').to.be.above(0);
    expect(seen).to.deep.equal(log);
    expect(new Set(seen).size).to.equal(seen.length);
  });

  it('goes on delivering to the others while a subscriber cuts itself off mid-fan-out', async () => {
    const id = await group(alice, [bob], 'cut off');
    const before = recorder(Number(bob.id));
    // What a stream that falls STREAM_BUFFER_BYTES behind does: it unsubscribes inside deliver() (lib/events/sse.ts).
    const slow = recorder(Number(bob.id), (self) => self.unsubscribe());
    const after = recorder(Number(bob.id));
    expect(hub().connectionsOf(Number(bob.id))).to.equal(3);
    for (const body of ['one', 'two', 'three']) await send(alice, id, body);
    await after.until(() => after.bodies.length >= 3, 'the last subscriber to have every message');
    expect(before.bodies).to.deep.equal(['one', 'two', 'three']);
    expect(after.bodies).to.deep.equal(['one', 'two', 'three']);
    expect(slow.events).to.have.length(1);
    expect(hub().connectionsOf(Number(bob.id))).to.equal(2);
  });

  it('hands an ephemeral event from the bus only to the users it names', async () => {
    const bobs = recorder(Number(bob.id));
    const carols = recorder(Number(carol.id));
    const at = new Date().toISOString();
    t.server.parley.deps.bus.publish({
      kind: 'ephemeral',
      userIds: [Number(bob.id)],
      type: 'typing',
      data: {},
      at,
    });
    await bobs.until(() => bobs.events.some((e) => e.type === 'typing'), 'the typing event');
    expect(bobs.events.find((e) => e.type === 'typing')!.position).to.equal(null);
    // Anything carol is handed from here on comes after the typing event, if it came to her.
    await send(bob, await direct(bob, carol), 'after the typing');
    await carols.until(() => carols.bodies.length >= 1, "carol's message");
    expect(carols.events.map((e) => e.type)).to.not.include('typing');
  });

  it('vouches that nothing after a cursor is for a user only where the log agrees, remembering at most its bound', async () => {
    const { db, bus, log } = t.server.parley.deps;
    // Three more hubs on the same log: one remembers all 5 users below, one at most 3 (the
    // node's: 100,000), so its bound is passed again and again, and one whose memory starts again
    // at every batch (half an event retention of 2 ms; the node's: a minute).
    const kept = 3;
    const hubs = [
      { lastVisibleKept: 1000, eventRetentionMs: 86_400_000 },
      { lastVisibleKept: kept, eventRetentionMs: 86_400_000 },
      { lastVisibleKept: 1000, eventRetentionMs: 2 },
    ].map((limits) => new EventHub(db, bus, log, { presenceGroupLimit: 100, ...limits }));
    const [roomy, small, brief] = hubs as [EventHub, EventHub, EventHub];
    // With no subscriber of their own: they remember who may see each event all the same.
    for (const h of hubs) await h.start();
    try {
      const [dave, erin] = await Promise.all([signUp(t.url, 'dave'), signUp(t.url, 'erin')]);
      const users = [alice, bob, carol, dave!, erin!];
      const conversations = [
        await direct(alice, bob),
        await direct(bob, carol),
        await group(carol, [dave!, erin!], 'three'),
        await direct(erin!, alice),
      ];
      const caughtUp = async () => {
        const { head } = await readConsistently(db, selectLogBounds);
        while (hubs.some((h) => isAfter(head, h.fannedOutThrough)))
          await new Promise((r) => setTimeout(r, 5));
        return head;
      };
      const cursors: Position[] = [await caughtUp()];
      for (let i = 0; i <= 12; i++) {
        const sender = [alice, bob, carol, erin!][i % 4]!;
        // Now and then (and last) an event with recipients of its own, not a conversation's
        // members: a profile change reaches the user's contacts.
        if (i % 5 === 2) {
          const changed = await sender.api.put(`/users/${sender.id}`, {
            displayName: `${sender.username} ${i}`,
          });
          expect(changed.status).to.equal(200);
        } else await send(sender, conversations[i % 4]!, `round ${i}`);
        cursors.push(await caughtUp());
      }
      const head = cursors.at(-1)!;
      for (const [name, h] of [
        ['roomy', roomy],
        ['small', small],
        ['brief', brief],
      ] as const) {
        let vouched = 0;
        let refused = 0;
        for (const user of users) {
          for (const cursor of cursors) {
            if (!h.nothingAfter(Number(user.id), cursor)) {
              refused++;
              continue;
            }
            vouched++;
            // Starting again at every batch, that hub vouches only for the head.
            if (h === brief)
              expect(encodeCursor(cursor), `brief: ${user.username}`).to.equal(encodeCursor(head));
            const feed = await readFeed(db, Number(user.id), cursor, {
              limit: 1000,
              presenceGroupLimit: 100,
            });
            const upToHead = feed.filter((e) => !isAfter(e.position!, head)).map(idOf);
            expect(upToHead, `${name}: ${user.username} after ${encodeCursor(cursor)}`).to.deep.equal([]);
          }
        }
        // Both answers came up: the checks above ran, and the hub does not vouch for everything.
        expect(vouched, name).to.be.above(0);
        expect(refused, name).to.be.above(0);
      }
      // At most the bound, plus the one event's audience that passed it.
      expect(small.usersRemembered()).to.be.at.most(kept + 3);
      expect(roomy.usersRemembered()).to.equal(users.length);
    } finally {
      for (const h of hubs) await h.stop();
    }
  });

  it('closes the subscribers of a revoked session, also one that subscribes just after the revoke', async () => {
    const sessionId = randomUUID();
    const revoked = recorder(Number(bob.id), undefined, sessionId);
    const other = recorder(Number(bob.id));
    t.server.parley.deps.bus.publish({ kind: 'revoke', sessionIds: [sessionId] });
    await revoked.until(() => revoked.closedFor !== null, 'the revoked subscriber to close');
    expect(revoked.closedFor).to.equal('revoked');
    // Authenticated just before the revoke was heard, subscribing just after it.
    const late = recorder(Number(bob.id), undefined, sessionId);
    await late.until(() => late.closedFor !== null, 'the late subscriber to close');
    expect(late.closedFor).to.equal('revoked');
    expect(other.closedFor).to.equal(null);
  });
});
