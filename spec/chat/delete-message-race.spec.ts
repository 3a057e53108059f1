import { expect } from 'chai';
import { group, send } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';
import { describeOnPostgres, requestWhileConversationLocked } from '../helpers/postgres.ts';

// Only PostgreSQL runs transactions side by side; on SQLite one writer at a time leaves no window.
describeOnPostgres('deleting a message while being removed (issue 12, item 18)', () => {
  const t = useServer({ users: ['alice', 'bob'] });

  it('checks membership inside the transaction: a member removed meanwhile gets 404', async () => {
    const { alice, bob } = t.users;
    const id = await group(alice, [bob]);
    const message = await send(bob, id, 'mine');
    // Hold the conversation as a concurrent removal would, start the delete, end bob's membership.
    const deleted = await requestWhileConversationLocked(
      t.db,
      id,
      () => bob.api.delete(`/conversations/${id}/message/${message.id}`),
      async (trx) => {
        await trx('memberships')
          .where({ conversation_id: id, user_id: bob.id })
          .whereNull('left_event_id')
          .update({ left_event_id: 1 });
      },
    );
    expect(deleted.status).to.equal(404);
  });
});
