import { expect } from 'chai';
import { signUp } from '../helpers/client.ts';
import { startServer } from '../helpers/server.ts';

const DAY_MS = 86_400_000;

describe('Ended session rows are purged (issue 12, item 21)', () => {
  it('deletes sessions expired or revoked over a day ago when the server starts, keeping the rest', async () => {
    const first = await startServer();
    let second: Awaited<ReturnType<typeof startServer>> | undefined;
    try {
      const [expired, revoked, recent, live] = await Promise.all(
        ['expired', 'revoked', 'recent', 'live'].map((p) => signUp(first.url, p)),
      );
      const db = first.parley.deps.db;
      const longAgo = new Date(Date.now() - 2 * DAY_MS).toISOString();
      const lately = new Date(Date.now() - 60_000).toISOString();
      await db('sessions')
        .where({ user_id: Number(expired!.id) })
        .update({ expires_at: longAgo });
      await db('sessions')
        .where({ user_id: Number(revoked!.id) })
        .update({ revoked_at: longAgo });
      await db('sessions')
        .where({ user_id: Number(recent!.id) })
        .update({ revoked_at: lately });
      await first.stop();
      second = await startServer(first.env, first.dir);
      const userIdsLeft = async () =>
        (await second!.parley.deps.db('sessions').select('user_id')).map((r: { user_id: number }) =>
          String(r.user_id),
        );
      // The purge runs as the server starts; it is done once the rows are gone.
      let left = await userIdsLeft();
      for (let i = 0; i < 100 && left.includes(expired!.id); i++) {
        await new Promise((r) => setTimeout(r, 20));
        left = await userIdsLeft();
      }
      expect(left).to.not.include(expired!.id);
      expect(left).to.not.include(revoked!.id);
      // Revoked lately: kept a day, for nodes that missed the bus to find it.
      expect(left).to.include(recent!.id);
      expect(left).to.include(live!.id);
    } finally {
      await second?.close();
      if (!second) await first.close();
    }
  });
});
