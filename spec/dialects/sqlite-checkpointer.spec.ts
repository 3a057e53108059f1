import { statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { CHECKPOINT_BACKSTOP_PAGES } from '../../lib/dialects/sqlite-checkpointer.ts';
import { direct, send } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';
import { onPostgres } from '../helpers/postgres.ts';

/** Resolves once `check` holds, looking every 20 ms (no event says a checkpoint happened). */
async function until(check: () => boolean, what: string, waitMs = 10_000): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${waitMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

(onPostgres ? describe.skip : describe)('the SQLite WAL checkpointer (SQLite only)', () => {
  const t = useServer({ users: ['alice', 'bob'] });
  const { alice, bob } = t.users;

  it('copies committed pages into the database file on its own thread, not in the commits of requests', async () => {
    const [{ wal_autocheckpoint }] = await t.db.raw('PRAGMA wal_autocheckpoint');
    expect(wal_autocheckpoint).to.equal(CHECKPOINT_BACKSTOP_PAGES);
    const file = join(t.server.dir, 'parley.db');
    const before = statSync(file).size;
    const conversationId = await direct(alice, bob);
    for (let i = 0; i < 100; i++) await send(alice, conversationId, `message ${i} ${'x'.repeat(2000)}`);
    // ~200 KB of messages: far below the serving connection's own checkpoint point, so only the
    // checkpointer thread can have moved them out of the WAL into the file.
    await until(() => statSync(file).size > before + 200_000, 'the database file grows by the messages');
  });
});
