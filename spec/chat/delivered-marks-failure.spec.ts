import { expect } from 'chai';
import { direct, poll, send } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';
import { onPostgres } from '../helpers/postgres.ts';

// A trigger that refuses to move delivered marks: the database fails every flush while it exists.
const BREAK = onPostgres
  ? [
      `CREATE FUNCTION refuse_delivered() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql`,
      `CREATE TRIGGER refuse_delivered BEFORE UPDATE OF last_delivered_message_id ON memberships
         FOR EACH ROW EXECUTE FUNCTION refuse_delivered()`,
    ]
  : [
      `CREATE TRIGGER refuse_delivered BEFORE UPDATE OF last_delivered_message_id ON memberships
         BEGIN SELECT RAISE(ABORT, 'refused'); END`,
    ];
const REPAIR = onPostgres
  ? ['DROP TRIGGER refuse_delivered ON memberships', 'DROP FUNCTION refuse_delivered()']
  : ['DROP TRIGGER refuse_delivered'];

describe('delivered marks after a failed flush (issue 12, item 16)', () => {
  // Flushed by hand: the timer would race the spec.
  const t = useServer({ users: ['alice', 'bob'], env: { DELIVERY_FLUSH_MS: '3600000' } });

  it('retries the failed batch, and later flushes run', async () => {
    const { alice, bob } = t.users;
    const { db, deliveries } = t.server.parley.deps;
    const id = await direct(alice, bob);
    const start = (await bob.api.get('/conversations')).body.eventCursor;
    const message = await send(alice, id, 'hello');
    const first = await poll(bob, { cursor: start, timeout: 0 });
    await poll(bob, { cursor: first.body.cursor, timeout: 0 }); // acknowledges the first answer
    const mark = async () =>
      Number(
        (
          await db('memberships')
            .first('last_delivered_message_id')
            .where({ conversation_id: id, user_id: bob.id })
        ).last_delivered_message_id,
      );

    for (const sql of BREAK) await db.raw(sql);
    try {
      let failed = false;
      await deliveries.flush().catch(() => {
        failed = true;
      });
      expect(failed, 'the flush fails while the database refuses').to.equal(true);
    } finally {
      for (const sql of REPAIR) await db.raw(sql);
    }
    await deliveries.flush();
    expect(await mark()).to.equal(Number(message.id));
  });
});
