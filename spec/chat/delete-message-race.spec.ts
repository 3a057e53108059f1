import { expect } from 'chai';
import { dialectOf } from '../../lib/store/dialect.ts';
import { group, send } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';
import { onPostgres, untilWaitingForLocks } from '../helpers/postgres.ts';

// Only PostgreSQL runs transactions side by side; on SQLite one writer at a time leaves no window.
(onPostgres ? describe : describe.skip)('deleting a message while being removed (issue 12, item 18)', () => {
  const t = useServer({ users: ['alice', 'bob'] });

  it('checks membership inside the transaction: a member removed meanwhile gets 404', async () => {
    const { alice, bob } = t.users;
    const { db } = t.server.parley.deps;
    const id = await group(alice, [bob]);
    const message = await send(bob, id, 'mine');
    let deleting: Promise<{ status: number }> | undefined;
    await db.transaction(async (trx) => {
      // Hold the conversation as a concurrent removal would, start the delete, end bob's membership.
      await dialectOf(trx).lockConversations(trx, [Number(id)]);
      deleting = bob.api.delete(`/conversations/${id}/message/${message.id}`);
      await untilWaitingForLocks(db);
      await trx('memberships')
        .where({ conversation_id: id, user_id: bob.id })
        .whereNull('left_event_id')
        .update({ left_event_id: 1 });
    });
    expect((await deleting!).status).to.equal(404);
  });
});
