import { expect } from 'chai';
import { insertUsers } from '../helpers/bulk-users.ts';
import { group, poll } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';

describe('adding many members at once (issue 12, item 1)', function () {
  this.timeout(60_000);
  const t = useServer({ users: ['alice', 'bob'] });

  /** Events in the whole log and the bytes of their data. */
  async function logSize() {
    const { db } = t.server.parley.deps;
    const [row] = await db('events').select(
      db.raw('COUNT(*) AS n'),
      db.raw('COALESCE(SUM(LENGTH(data)), 0) AS bytes'),
    );
    return { events: Number(row.n), bytes: Number(row.bytes) };
  }

  it('stores events linear in the members added, not in their square', async () => {
    const { alice, bob } = t.users;
    const id = await group(alice, [bob]);
    const newcomers = await insertUsers(t.server, 998);
    const before = await logSize();
    const res = await alice.api.post(`/conversations/${id}/participants`, { userIds: newcomers });
    expect(res.status, res.text).to.equal(200);
    const after = await logSize();
    // One participant.added naming them all, and one conversation.created for them all.
    expect(after.events - before.events).to.equal(2);
    expect(after.bytes - before.bytes).to.be.below(newcomers.length * 400);
  });

  it('gives each newcomer one conversation.created showing the conversation', async () => {
    const { alice, bob } = t.users;
    const carol = await t.signUp('carol');
    const id = await group(alice, [bob]);
    const cursor = (await carol.api.get('/conversations')).body.eventCursor;
    expect(
      (await alice.api.post(`/conversations/${id}/participants`, { userIds: [carol.id] })).status,
    ).to.equal(200);
    const res = await poll(carol, { cursor, timeout: 0 });
    const created = res.body.events.filter((e: any) => e.type === 'conversation.created');
    expect(created).to.have.length(1);
    expect(created[0].data).to.include({ id, unreadCount: 0, lastMessage: null });
    expect(created[0].data.participants.map((p: any) => p.id)).to.deep.equal([alice.id, bob.id, carol.id]);
  });
});
