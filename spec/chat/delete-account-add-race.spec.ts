import { expect } from 'chai';
import type { Knex } from 'knex';
import { group } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';
import { describeOnPostgres } from '../helpers/postgres.ts';

/** Waits until `count` statements wait for a lock of any kind (row or advisory). */
async function untilBlocked(db: Knex, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [row] = await db('pg_locks').count('* as n').where({ granted: false });
    if (Number(row!.n) >= count) return;
    if (Date.now() > deadline) throw new Error(`fewer than ${count} statements waiting for a lock`);
    await new Promise((r) => setImmediate(r));
  }
}

// Only PostgreSQL runs transactions side by side; on SQLite one writer at a time leaves no window.
describeOnPostgres('an account deleted while it is being added (issue 12, item 18)', () => {
  const t = useServer({ users: ['alice', 'bob', 'carol'] });

  it('never leaves a deleted account a member, when the add checked the user first', async () => {
    const { alice, bob, carol } = t.users;
    const { db } = t.server.parley.deps;
    const id = await group(alice, [bob]);
    let adding: Promise<any> | undefined;
    let deleting: Promise<any> | undefined;
    await db.transaction(async (trx) => {
      // Holds the add after it has checked carol (and share-locked her row), before it writes.
      await trx('conversations').where({ id }).forUpdate().first();
      adding = alice.api.post(`/conversations/${id}/participants`, { userIds: [carol.id] });
      await untilBlocked(db, 1);
      // Carol deletes her account meanwhile: it must not finish blind to the membership coming.
      deleting = carol.api.delete(`/users/${carol.id}`);
      await untilBlocked(db, 2);
    });
    const [added, deleted] = await Promise.all([adding!, deleting!]);
    expect(deleted.status, deleted.text).to.equal(204);
    expect([200, 400]).to.include(added.status);
    const current = await db('memberships')
      .where({ conversation_id: id, user_id: carol.id })
      .whereNull('left_event_id');
    expect(current).to.deep.equal([]);
  });
});
