import { expect } from 'chai';
import { prunePresenceEvents } from '../../lib/store/events.ts';
import { direct, poll } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';

/** Presence transitions are kept minutes only (issue 12 item 20); pruning them must not move "now". */
describe('pruning presence events', () => {
  const t = useServer({ users: ['alice', 'bob'] });

  /** Writes a presence transition of `userId` into the log, as the presence tracker does, `agoMs` back. */
  async function presenceEvent(userId: string, agoMs: number): Promise<void> {
    const at = new Date(Date.now() - agoMs).toISOString();
    const { db } = t.server.parley.deps;
    await db('events').insert({
      type: 'presence.updated',
      subject_user_id: Number(userId),
      data: JSON.stringify({ userId, presence: 'online', lastSeenAt: at }),
      at,
    });
  }

  const presenceRows = () =>
    t.server.parley.deps.db('events').whereNotNull('subject_user_id').count({ n: '*' });

  it('deletes the old transitions, keeps the recent ones, and never the newest event of the log', async () => {
    const { alice, bob } = t.users;
    await direct(alice, bob);
    let head = (await poll(alice, { timeout: 0 })).body.cursor;
    await presenceEvent(bob.id, 10 * 60_000);
    await presenceEvent(bob.id, 60_000);
    // The newest event of the log is an old transition: it is the head every cursor is measured by.
    await presenceEvent(alice.id, 10 * 60_000);
    t.server.parley.deps.bus.publish({ kind: 'log' });
    // The head is where alice is once she has read up to her own transition. On PostgreSQL a
    // transaction still running elsewhere can keep the new rows unreadable for a moment, so a head
    // read straight after the inserts may still lie before them.
    const seen: any[] = [];
    while (!seen.some((e) => e.data.userId === alice.id)) {
      const res = await poll(alice, { cursor: head, timeout: 5 });
      seen.push(...res.body.events);
      head = res.body.cursor;
    }
    const pruned = await prunePresenceEvents(
      t.server.parley.deps.db,
      new Date(Date.now() - 5 * 60_000).toISOString(),
    );
    expect(pruned).to.equal(1);
    expect(Number((await presenceRows())[0]!.n)).to.equal(2);
    // A client at the head goes on from it: no reset.
    const res = await poll(alice, { cursor: head, timeout: 0 });
    expect(res.status).to.equal(200);
    expect(res.body.events.map((e: any) => e.type)).to.deep.equal([]);
    expect(res.body.cursor).to.equal(head);
  });
});
