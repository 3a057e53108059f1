import { join } from 'node:path';
import { type ServerProc, startServer } from './procs.ts';
import type { BenchDb } from './seed.ts';
import type { BenchContext } from './types.ts';

/**
 * Parley as users run it (`npm start` is `tsx lib/server.ts`), spawned as `node --import tsx
 * lib/server.ts` — the same thing without tsx's wrapper process — so the pid measured for memory
 * and CPU is Parley's own and --cpu-prof can be passed. Limits meant for humans are raised so the
 * bench measures the server, not its throttles.
 */
export function startParley(
  ctx: BenchContext,
  scenario: string,
  db: BenchDb,
  env: Record<string, string> = {},
): Promise<ServerProc> {
  const profiling = ctx.profile.has(scenario);
  return startServer(
    'parley',
    'lib/server.ts',
    {
      ...db.env,
      LOG_LEVEL: 'warn',
      STREAMS_PER_USER: '100000',
      LOGIN_FAILURES_PER_WINDOW: '1000000',
      // 0 turns the per-user send limit off: one bench user sends thousands of messages a second.
      MESSAGES_PER_WINDOW: '0',
      MAX_GROUP_MEMBERS: '100000',
      // Presence announces every user's first connection to everyone they share a conversation
      // with: opening 1,000 streams in a 1,000-member group would be a million-event storm before
      // the first measured message. It is off here so the scenarios measure what they name.
      PRESENCE_ENABLED: 'false',
      ...env,
    },
    profiling
      ? // One folder per run: the main thread and tsx's loader thread each write a profile there.
        { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${join(ctx.profileDir, `${scenario}-${Date.now()}`)}`] }
      : {},
  );
}

export function startFloor(script: string, env: Record<string, string> = {}): Promise<ServerProc> {
  return startServer('floor', `bench/floor/${script}`, env);
}

/**
 * POSTs `body` as JSON to `url` as `token`; resolves with the status, or 0 when the request failed.
 * A reset of a reused keep-alive connection (the server closed it as idle just as it was reused) is
 * retried once: that request never reached the server.
 */
export async function postJson(url: string, token: string, body: unknown): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
      await res.arrayBuffer();
      return res.status;
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code;
      if (attempt === 0 && (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET')) continue;
      return 0;
    }
  }
}

/** POSTs a chat message as `token` (see postJson). */
export const postMessage = (url: string, conversationId: number, token: string, body: string) =>
  postJson(`${url}/conversations/${conversationId}/message`, token, { body });

export type Side = 'floor' | 'parley';

/**
 * Starts the floor and Parley at the same time (startup is not what these scenarios measure), then
 * runs the load against the floor and then against Parley — never both at once — and stops both.
 */
export async function eachSide<T, S extends { stop(): Promise<void> } = ServerProc>(
  starters: Record<Side, () => Promise<S>>,
  run: (side: Side, server: S) => Promise<T>,
): Promise<Record<Side, T>> {
  const started = await Promise.allSettled([starters.floor(), starters.parley()]);
  const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const stopAll = async () => {
    const stopped = await Promise.allSettled(servers.map((s) => s.stop()));
    const died = stopped.find((s) => s.status === 'rejected');
    if (died) throw died.reason;
  };
  let result: Record<Side, T>;
  try {
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    const [floor, parley] = servers as unknown as [S, S];
    const floorResult = await run('floor', floor);
    const parleyResult = await run('parley', parley);
    result = { floor: floorResult, parley: parleyResult };
  } catch (err) {
    await stopAll().catch(() => {});
    throw err;
  }
  // A server that died mid-run voids its numbers: that surfaces here.
  await stopAll();
  return result;
}
