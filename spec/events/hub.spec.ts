import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { readFeed, startingPoint } from '../../lib/events/feed.ts';
import type { Subscriber } from '../../lib/events/hub.ts';
import type { WireEvent } from '../../lib/events/wire.ts';
import { isAfter } from '../../lib/store/position.ts';
import { Changes } from '../helpers/changes.ts';
import { direct, group, send } from '../helpers/chat.ts';
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
