import { eachSide, startFloor, startParley } from '../lib/parley.ts';
import { cpuMs, rssBytes, type ServerProc, sleep, startStreamClient, waitIdle } from '../lib/procs.ts';
import { createDb, type SeededUser, seedUsers } from '../lib/seed.ts';
import { type BenchContext, fmt, type ScenarioResult } from '../lib/types.ts';

// A short heartbeat makes its CPU cost measurable in seconds instead of minutes; the cost per beat
// is what is reported, and it does not depend on the interval.
const HEARTBEAT_MS = 1000;

async function runSide(server: ServerProc, users: SeededUser[], windowMs: number) {
  const client = await startStreamClient();
  try {
    const open = (list: SeededUser[]) =>
      client.request<{ ok: number; statuses: Record<string, number> }>(
        {
          op: 'sse-open',
          host: server.host,
          port: server.port,
          requests: list.map((u) => ({ path: '/events', token: u.token })),
          ready: ': live',
          concurrency: 200,
        },
        'opened',
      );
    // Warm up the code paths with a few streams, so the baseline already holds the compiled code.
    const warm = Math.min(50, users.length);
    await open(users.slice(0, warm));
    await waitIdle(server.pid, 10_000);
    await sleep(500);
    const before = rssBytes(server.pid);
    const rest = users.slice(warm);
    const opened = await open(rest);
    if (opened.ok !== rest.length) throw new Error(`streams: opened ${JSON.stringify(opened.statuses)}`);
    await waitIdle(server.pid, 60_000);
    await sleep(1000);
    const after = rssBytes(server.pid);
    const cpu0 = cpuMs(server.pid);
    await sleep(windowMs);
    const cpu = cpuMs(server.pid) - cpu0;
    const beats = windowMs / HEARTBEAT_MS;
    return {
      streams: rest.length,
      rssBeforeMiB: before / 2 ** 20,
      rssAfterMiB: after / 2 ** 20,
      kibPerStream: (after - before) / 1024 / rest.length,
      cpuMsInWindow: cpu,
      windowMs,
      usPerStreamPerBeat: (cpu * 1000) / (users.length * beats),
    };
  } finally {
    await client.close();
  }
}

/** Idle SSE streams in one process: memory per stream and heartbeat CPU, vs raw node:http streams. */
export async function streams(ctx: BenchContext): Promise<ScenarioResult> {
  const n = ctx.quick ? 200 : 10_000;
  const windowMs = ctx.quick ? 2000 : 6000;
  const db = await createDb('streams');
  const users = await seedUsers(db, n, 'idle');
  const env = { SSE_HEARTBEAT_MS: String(HEARTBEAT_MS) };
  const out: Record<string, Awaited<ReturnType<typeof runSide>>> = {};
  await eachSide(
    { floor: () => startFloor('sse.ts', env), parley: () => startParley(ctx, 'streams', db, env) },
    async (side, server) => {
      out[side] = await runSide(server, users, windowMs);
      ctx.log(`streams ${side}: ${out[side].kibPerStream.toFixed(1)} KiB/stream`);
    },
  );
  const size = `${fmt(n)} streams, 1 user each`;
  return {
    rows: [
      {
        scenario: 'streams',
        size,
        metric: 'memory per stream (RSS)',
        unit: 'KiB',
        parley: out.parley!.kibPerStream,
        floor: out.floor!.kibPerStream,
        goal: { kind: 'at-most', ratio: 1.5 },
      },
      {
        scenario: 'streams',
        size,
        metric: 'heartbeat CPU per stream per beat',
        unit: 'µs',
        parley: out.parley!.usPerStreamPerBeat,
        floor: out.floor!.usPerStreamPerBeat,
        goal: { kind: 'report' },
      },
    ],
    details: { heartbeatMs: HEARTBEAT_MS, ...out },
  };
}
