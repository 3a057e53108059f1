import { expect } from 'chai';
import { pino } from 'pino';
import { PgBus } from '../../lib/dialects/postgres-bus.ts';
import type { BusMessage } from '../../lib/events/bus.ts';
import { Changes } from '../helpers/changes.ts';
import { useServer } from '../helpers/fixture.ts';
import { describeOnPostgres, pgQuery } from '../helpers/postgres.ts';

// The bus between nodes (lib/dialects/postgres-bus.ts), on the real database: two buses stand for
// two nodes. The spec's server has a bus of its own on the same channel, so a handler also hears
// that node's messages; each spec picks out its own.

/** A handler on one bus that keeps what it hears and lets a spec wait for a message. */
class Heard {
  readonly messages: BusMessage[] = [];
  private readonly changes = new Changes();

  constructor(bus: PgBus) {
    bus.subscribe((message) => {
      this.messages.push(message);
      this.changes.notify();
    });
  }

  /** Waits until a message matches, and returns it. */
  async next(accept: (m: BusMessage) => boolean, what: string): Promise<BusMessage> {
    await this.until(() => this.messages.some(accept), what);
    return this.messages.find(accept)!;
  }

  /** Waits, message by message, until `done()`. */
  until(done: () => boolean, what: string, waitMs = 10_000): Promise<void> {
    return this.changes.until(done, what, waitMs);
  }

  /** How many messages matching `accept` came from index `from` on. */
  count(accept: (m: BusMessage) => boolean, from = 0): number {
    return this.messages.slice(from).filter(accept).length;
  }
}

/** An ephemeral message that no node sends by itself, told apart by `marker`. */
const marked = (marker: string): BusMessage => ({
  kind: 'ephemeral',
  userIds: [1],
  type: 'typing',
  data: { marker },
  at: new Date().toISOString(),
});
const isMarked = (marker: string) => (m: BusMessage) =>
  m.kind === 'ephemeral' && (m.data as { marker?: string }).marker === marker;
const isLog = (m: BusMessage) => m.kind === 'log';

describeOnPostgres('the PostgreSQL bus', () => {
  const t = useServer({ users: ['alice', 'bob'] });
  const buses: PgBus[] = [];
  /** One more node's bus on the server's database and channel. */
  const node = async (): Promise<PgBus> => {
    const target = t.server.parley.deps.config.database;
    if (target.client !== 'postgres') throw new Error('the spec server is not on PostgreSQL');
    const bus = await PgBus.connect(t.server.parley.deps.db, target, pino({ level: 'silent' }));
    buses.push(bus);
    return bus;
  };
  afterEach(async () => {
    await Promise.all(buses.splice(0).map((bus) => bus.close()));
  });

  it('delivers what one node publishes to the other, and to its own subscribers exactly once', async () => {
    const [a, b] = [await node(), await node()];
    const [heardByA, heardByB] = [new Heard(a), new Heard(b)];
    a.publish(marked('a1'));
    expect(await heardByB.next(isMarked('a1'), 'a1 at b')).to.deep.equal(
      heardByA.messages.find(isMarked('a1')),
    );
    b.publish(marked('b1'));
    await heardByA.next(isMarked('b1'), 'b1 at a');
    // By now a's own NOTIFY of a1 has come back to it, and been dropped as its own.
    a.publish(marked('a2'));
    await heardByB.next(isMarked('a2'), 'a2 at b');
    expect(heardByA.count(isMarked('a1'))).to.equal(1);
    expect(heardByB.count(isMarked('b1'))).to.equal(1);
  });

  it('splits a revoke of many sessions into notifications that fit, losing none', async () => {
    const [a, b] = [await node(), await node()];
    const heardByB = new Heard(b);
    const sessionIds = Array.from({ length: 250 }, (_, i) => `spec-session-${i}`);
    a.publish({ kind: 'revoke', sessionIds });
    const mine = (m: BusMessage) =>
      m.kind === 'revoke' && m.sessionIds.some((id) => id.startsWith('spec-session-'));
    const parts = () => heardByB.messages.filter(mine) as { sessionIds: string[] }[];
    const heardIds = () => parts().flatMap((p) => p.sessionIds);
    // The parts go out on pooled connections side by side: in any order.
    await heardByB.until(() => heardIds().length >= sessionIds.length, 'every part');
    expect(parts().length).to.be.above(1);
    expect(heardIds().sort()).to.deep.equal([...sessionIds].sort());
  });

  it('reconnects after its LISTEN connection is killed, wakes its readers, and hears again', async () => {
    const [a, b] = [await node(), await node()];
    const heardByB = new Heard(b);
    const killed = b.listenerPid;
    expect(killed, 'a LISTEN connection').to.be.a('number');
    const from = heardByB.messages.length;
    const [row] = await pgQuery<{ terminated: boolean }>('SELECT pg_terminate_backend($1) AS terminated', [
      killed,
    ]);
    expect(row?.terminated).to.equal(true);
    // Restored: it tells its readers to catch up from the log, whatever NOTIFY they missed.
    await heardByB.until(
      () => heardByB.count(isLog, from) > 0 && b.listenerPid !== undefined && b.listenerPid !== killed,
      'a new LISTEN connection and a wake',
    );
    a.publish(marked('after the reconnect'));
    await heardByB.next(isMarked('after the reconnect'), 'a message over the new connection');
  });
});
