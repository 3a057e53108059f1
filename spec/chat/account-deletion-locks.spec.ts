import { expect } from 'chai';
import { dialectOf } from '../../lib/store/dialect.ts';
import { group } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';
import { describeOnPostgres, untilWaitingForLocks } from '../helpers/postgres.ts';

// Only PostgreSQL runs transactions side by side; on SQLite one writer at a time leaves no window.
describeOnPostgres('account deletion and the conversation locks (issue 12, item 17)', () => {
  const t = useServer({ users: ['alice', 'bob', 'carol'] });

  it('waits for the lock of each conversation it leaves, so an owner leaving meanwhile is seen', async () => {
    const { alice, bob, carol } = t.users;
    const id = await group(alice, [bob, carol]);
    expect(
      (await alice.api.put(`/conversations/${id}/participants/${bob.id}`, { role: 'owner' })).status,
    ).to.equal(200);
    let leaving: Promise<{ status: number }> | undefined;
    let deleting: Promise<{ status: number }> | undefined;
    let deletedWhileLocked = false;
    await t.db.transaction(async (trx) => {
      await dialectOf(trx).lockConversations(trx, [Number(id)]);
      // Owner alice leaves and owner bob deletes his account, both while the conversation is held.
      leaving = alice.api.delete(`/conversations/${id}/participants/${alice.id}`);
      deleting = bob.api.delete(`/users/${bob.id}`);
      deleting.then(() => {
        deletedWhileLocked = true;
      });
      await untilWaitingForLocks(t.db, 2, () => deletedWhileLocked);
    });
    expect(deletedWhileLocked, 'the deletion went ahead without the conversation lock').to.equal(false);
    expect((await leaving!).status).to.equal(204);
    expect((await deleting!).status).to.equal(204);
    const shown = await carol.api.get(`/conversations/${id}`);
    expect(shown.body.conversation.participants).to.deep.equal([
      { ...shown.body.conversation.participants[0], id: carol.id, role: 'owner' },
    ]);
  });
});
