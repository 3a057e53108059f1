import { expect } from 'chai';
import { group } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';
import { describeOnPostgres, requestWhileConversationLocked } from '../helpers/postgres.ts';
import { expectProblem } from '../helpers/problem.ts';

// Only PostgreSQL runs transactions side by side; on SQLite one writer at a time leaves no window.
describeOnPostgres('adding a user whose account is deleted meanwhile (issue 12, item 18)', () => {
  const t = useServer({ users: ['alice', 'bob', 'carol'] });

  it('checks the users inside the transaction: a deleted account never becomes a member', async () => {
    const { alice, bob, carol } = t.users;
    const id = await group(alice, [bob]);
    const added = await requestWhileConversationLocked(
      t.db,
      id,
      () => alice.api.post(`/conversations/${id}/participants`, { userIds: [carol.id] }),
      async (trx) => {
        // What deleting the account leaves behind: the row, marked deleted.
        await trx('users').where({ id: carol.id }).update({ deleted_at: new Date().toISOString() });
      },
    );
    expectProblem(added, 400, 'validation-failed');
    const members = await t.db('memberships').where({ conversation_id: id, user_id: carol.id });
    expect(members).to.deep.equal([]);
  });
});
