import { expect } from 'chai';
import { prepared, preparedTransaction } from '../../lib/store/prepared.ts';
import { direct, send } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';

/** Hot statements are built by knex once and run with bound values (lib/store/prepared.ts). */
describe('prepared statements', () => {
  const t = useServer({ users: ['alice', 'bob'] });
  const db = () => t.server.parley.deps.db;

  const messagesOf = prepared(['conversationId', 'senderId'], (knex, p) =>
    knex('messages')
      .select('id', 'body')
      .where({ conversation_id: p.conversationId, sender_id: p.senderId })
      .orderBy('id')
      .limit(10),
  );

  it('runs the SQL knex builds for the same query, with the values bound where the parameters were', async () => {
    const { alice, bob } = t.users;
    const conversationId = Number(await direct(alice, bob));
    await send(alice, conversationId.toString(), 'one');
    await send(bob, conversationId.toString(), 'two');
    await send(alice, conversationId.toString(), 'three');
    const values = { conversationId, senderId: Number(alice.id) };
    const built = db()('messages')
      .select('id', 'body')
      .where({ conversation_id: values.conversationId, sender_id: values.senderId })
      .orderBy('id')
      .limit(10);
    expect(messagesOf.compile(db()).sql).to.equal(built.toSQL().toNative().sql);
    const rows = await messagesOf.rows<{ body: string }>(db(), values);
    expect(rows.map((r) => r.body)).to.deep.equal(['one', 'three']);
    expect(rows).to.deep.equal(await built);
  });

  it('takes part in the transaction it is given: rolled back with it', async () => {
    const rename = prepared(['id', 'name'], (knex, p) =>
      knex('users').where({ id: p.id }).update({ display_name: p.name }),
    );
    const { alice } = t.users;
    const before = await db()('users')
      .first('display_name')
      .where({ id: Number(alice.id) });
    const rolledBack = new Error('roll back');
    const outcome = await db()
      .transaction(async (trx) => {
        expect(await rename.changes(trx, { id: Number(alice.id), name: 'inside' })).to.equal(1);
        // The transaction sees its own write...
        expect(
          (
            await trx('users')
              .first('display_name')
              .where({ id: Number(alice.id) })
          ).display_name,
        ).to.equal('inside');
        throw rolledBack;
      })
      .catch((err: unknown) => err);
    expect(outcome).to.equal(rolledBack);
    // ...and nothing of it is left once it rolled back.
    expect(
      await db()('users')
        .first('display_name')
        .where({ id: Number(alice.id) }),
    ).to.deep.equal(before);
  });

  it('is seen by db.on("query"), as every statement is', async () => {
    const seen: string[] = [];
    const onQuery = (q: { sql: string }) => seen.push(q.sql);
    db().on('query', onQuery);
    try {
      await messagesOf.rows(db(), { conversationId: 0, senderId: 0 });
    } finally {
      db().off('query', onQuery);
    }
    // Only its own: the server's background work (the push dispatcher, the hub) may run meanwhile.
    const sql = messagesOf.compile(db()).sql;
    expect(seen.filter((s) => s === sql)).to.have.length(1);
  });

  describe('preparedTransaction', () => {
    const rename = prepared(['id', 'name'], (knex, p) =>
      knex('users').where({ id: p.id }).update({ display_name: p.name }),
    );
    const nameOf = async (id: string) =>
      (
        await db()('users')
          .first('display_name')
          .where({ id: Number(id) })
      ).display_name;

    it('commits what its work wrote when the work succeeds', async () => {
      const { bob } = t.users;
      const changed = await preparedTransaction(db(), (trx) =>
        rename.changes(trx, { id: Number(bob.id), name: 'committed' }),
      );
      expect(changed).to.equal(1);
      expect(await nameOf(bob.id)).to.equal('committed');
    });

    it('rolls back everything its work wrote when the work fails, and hands on the failure', async () => {
      const { bob } = t.users;
      const before = await nameOf(bob.id);
      const failure = new Error('fails after writing');
      const outcome = await preparedTransaction(db(), async (trx) => {
        await rename.changes(trx, { id: Number(bob.id), name: 'never seen' });
        throw failure;
      }).catch((err: unknown) => err);
      expect(outcome).to.equal(failure);
      expect(await nameOf(bob.id)).to.equal(before);
      // The connection went back to the pool in a usable state.
      expect(await rename.changes(db(), { id: Number(bob.id), name: before })).to.equal(1);
    });
  });
});
