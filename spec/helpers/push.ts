import { readConsistently } from '../../lib/events/log.ts';
import { selectLogBounds } from '../../lib/store/events.ts';
import { isAfter } from '../../lib/store/position.ts';
import { Api, type TestUser } from './client.ts';
import type { TestServer } from './server.ts';

/** Logs `user` in as a new device; returns its token, device id and an Api bound to it. */
export async function newDevice(url: string, user: TestUser, name = 'device') {
  const res = await new Api(url).post('/login', {
    username: user.username,
    password: user.password,
    device: { name },
  });
  if (res.status !== 200) throw new Error(`login: ${res.status} ${res.text}`);
  return {
    token: res.body.token as string,
    deviceId: res.body.deviceId as string,
    api: new Api(url, res.body.token),
  };
}

/**
 * Waits until the server's push dispatcher has nothing left to do: it has read the event log up to
 * its head and owes no notification (none queued, none in flight). Checked against the real
 * database every few milliseconds — the dispatcher's state is in it.
 */
export function pushSettled(server: TestServer, waitMs = 10_000): Promise<void> {
  return untilDispatcher(server, waitMs, (s) => s.owed === 0 && !s.behind);
}

/** Waits until the push dispatcher has read the log up to its head (what it owes may still be owed). */
export function pushCaughtUp(server: TestServer, waitMs = 10_000): Promise<void> {
  return untilDispatcher(server, waitMs, (s) => !s.behind);
}

async function untilDispatcher(
  server: TestServer,
  waitMs: number,
  done: (state: { owed: number; behind: boolean }) => boolean,
): Promise<void> {
  const { db } = server.parley.deps;
  const deadline = Date.now() + waitMs;
  for (;;) {
    // One snapshot for the three: read one after another, the count could come from before an
    // expansion committed and the position from after it. Consistent, too, because on PostgreSQL
    // a committed event can still be held back below the horizon, and a head read around it would
    // call the dispatcher caught up before it has seen the event.
    const { owed, cursor, head } = await readConsistently(db, async (trx) => ({
      owed: (await trx('push_deliveries').count({ n: '*' }))[0],
      cursor: await trx('log_state').first('tx', 'id').where({ key: 'push_through' }),
      head: (await selectLogBounds(trx)).head,
    }));
    // Positions are (tx, id): on PostgreSQL ids are not in commit order, so compare both.
    const behind = cursor ? isAfter(head, { tx: Number(cursor.tx), id: Number(cursor.id) }) : true;
    if (done({ owed: Number(owed?.n ?? 0), behind })) return;
    if (Date.now() > deadline) throw new Error('the push dispatcher did not settle');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
