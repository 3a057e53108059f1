import { eachSide, postMessage, type Side, startFloor, startParley } from '../lib/parley.ts';
import { cpuMs, now, type ServerProc, sleep, sseOpen, startStreamClient } from '../lib/procs.ts';
import { createDb, type SeededUser, seedGroup, seedUsers } from '../lib/seed.ts';
import { percentile } from '../lib/stats.ts';
import { Tally } from '../lib/tally.ts';
import { type BenchContext, fmt, type Row, type ScenarioResult } from '../lib/types.ts';

// Messages to the group, during the storm and again once it is quiet.
const MESSAGES_PER_SECOND = 10;

interface Opened {
  ok: number;
  statuses: Record<string, number>;
  startedAt: number;
  endedAt: number;
}

/** Sends `count` marked messages to the group at MESSAGES_PER_SECOND, recording when each left. */
async function sendPaced(
  server: ServerProc,
  conversationId: number,
  sender: SeededUser,
  first: number,
  count: number,
  sentAt: Map<number, number>,
): Promise<number> {
  const t0 = now();
  const sends: Promise<number>[] = [];
  for (let seq = first; seq < first + count; seq++) {
    const wait = t0 + ((seq - first) * 1000) / MESSAGES_PER_SECOND - now();
    if (wait > 0) await sleep(wait);
    sentAt.set(seq, now());
    sends.push(postMessage(server.url, conversationId, sender.token, `bench-${seq}-presence-storm`));
  }
  return (await Promise.all(sends)).filter((s) => s !== 201).length;
}

async function runSide(
  server: ServerProc,
  members: SeededUser[],
  sender: SeededUser,
  conversationId: number,
  stormMs: number,
  settle: { afterMs: number; capMs: number },
) {
  const client = await startStreamClient();
  try {
    const tally = new Tally(client);
    const sentAt = new Map<number, number>();
    const count = Math.round((MESSAGES_PER_SECOND * stormMs) / 1000);
    await postMessage(server.url, conversationId, sender.token, 'warm-up');
    const cpu0 = cpuMs(server.pid);
    const stormStart = now();
    client.send(sseOpen(server, members, { spreadMs: stormMs, count: 'event: presence.updated' }));
    const stormFailures = await sendPaced(server, conversationId, sender, 0, count, sentAt);
    const opened = await client.next<Opened>('opened');
    if (opened.ok !== members.length)
      throw new Error(`presence-storm: opened ${JSON.stringify(opened.statuses)}`);
    // Settled: every stream open and no presence frame for settle.afterMs (or the cap passed).
    let lastFrames = -1;
    let quietSince = now();
    for (;;) {
      await sleep(250);
      await tally.gather();
      if (tally.frames !== lastFrames) {
        lastFrames = tally.frames;
        quietSince = now();
      }
      if (now() - quietSince >= settle.afterMs || now() - stormStart > settle.capMs) break;
    }
    const settled = now() - quietSince >= settle.afterMs;
    const stormCpuMs = cpuMs(server.pid) - cpu0;
    const settleMs = Math.max(opened.endedAt, tally.lastFrameAt) - stormStart;
    const quietFailures = await sendPaced(server, conversationId, sender, count, count, sentAt);
    // Every quiet message reaches every stream; wait for that (or 10 s).
    const deadline = now() + 10_000;
    do {
      await sleep(100);
      await tally.gather();
    } while (
      now() < deadline &&
      [...Array(count).keys()].some((i) => (tally.arrivals.get(count + i)?.length ?? 0) < members.length)
    );
    const storm = tally.latencies(sentAt, 0, count);
    const quiet = tally.latencies(sentAt, count, 2 * count);
    return {
      storm,
      quiet,
      quietMissing: count * members.length - quiet.length,
      presenceFrames: tally.frames,
      settled,
      settleMs,
      openedInMs: opened.endedAt - opened.startedAt,
      stormCpuMs,
      failures: stormFailures + quietFailures + tally.dropped,
    };
  } finally {
    await client.close();
  }
}

/**
 * Presence on, as users run it: the members of one group open their streams within a few seconds
 * while messages go to the group. Counts the presence frames the clients receive, the server's CPU
 * until presence settles and how long that takes, and the messages' p99 during the storm against
 * the same group's once it is quiet. The floor is the raw SSE broadcast, which has no presence.
 */
export async function presenceStorm(ctx: BenchContext): Promise<ScenarioResult> {
  const n = ctx.quick ? 50 : 1000;
  const stormMs = ctx.quick ? 1000 : 10_000;
  // Presence has settled once no presence frame arrived for afterMs; capMs is the most it waits.
  const settle = ctx.quick ? { afterMs: 1000, capMs: 20_000 } : { afterMs: 2000, capMs: 180_000 };
  const db = await createDb('presence-storm');
  const [sender, ...members] = await seedUsers(db, n + 1, 'storm');
  const conversationId = seedGroup(
    db,
    sender!.id,
    members.map((m) => m.id),
  );
  const out = await eachSide(
    {
      floor: () => startFloor('sse.ts'),
      parley: () => startParley(ctx, 'presence-storm', db, { PRESENCE_ENABLED: 'true' }),
    },
    async (side: Side, server) => {
      const r = await runSide(server, members, sender!, conversationId, stormMs, settle);
      ctx.log(
        `presence-storm ${side}: ${fmt(r.presenceFrames)} presence frames, settled in ${Math.round(r.settleMs)} ms${r.settled ? '' : ' (NOT settled: cap)'}, p99 storm ${percentile(r.storm, 99).toFixed(1)} ms / quiet ${percentile(r.quiet, 99).toFixed(1)} ms`,
      );
      return r;
    },
  );
  const p = out.parley;
  const f = out.floor;
  const size = `${fmt(n)} members opening streams within ${stormMs / 1000} s, ${MESSAGES_PER_SECOND} msg/s to the group`;
  const rows: Row[] = [
    {
      scenario: 'presence-storm',
      size,
      metric: 'message p99 during the storm (floor column: same group once quiet)',
      unit: 'ms',
      parley: percentile(p.storm, 99),
      floor: percentile(p.quiet, 99),
      goal: { kind: 'at-most', ratio: 2 },
    },
    {
      scenario: 'presence-storm',
      size,
      metric: 'message p99 during the storm',
      unit: 'ms',
      parley: percentile(p.storm, 99),
      floor: percentile(f.storm, 99),
      goal: { kind: 'report' },
    },
    {
      scenario: 'presence-storm',
      size,
      metric: 'presence frames received (all clients)',
      unit: 'count',
      parley: p.presenceFrames,
      floor: f.presenceFrames,
      goal: { kind: 'report' },
    },
    {
      scenario: 'presence-storm',
      size,
      metric: 'server CPU from the first stream until settled',
      unit: 'ms',
      parley: p.stormCpuMs,
      floor: f.stormCpuMs,
      goal: { kind: 'report' },
    },
    {
      scenario: 'presence-storm',
      size,
      metric: `first stream → presence settled${p.settled ? '' : ' (NOT settled: cap reached)'}`,
      unit: 'ms',
      parley: p.settleMs,
      floor: f.settleMs,
      goal: { kind: 'report' },
    },
    {
      scenario: 'presence-storm',
      size,
      metric: 'failed sends + dropped streams + quiet deliveries missing',
      unit: 'count',
      parley: p.failures + p.quietMissing,
      floor: f.failures + f.quietMissing,
      goal: { kind: 'zero' },
    },
  ];
  const summary = (r: typeof p) => ({
    ...r,
    // N² would be every member announced to every member: what presence should stay far below.
    framesPerMember: r.presenceFrames / n,
    storm: { samples: r.storm.length, p50: percentile(r.storm, 50), p99: percentile(r.storm, 99) },
    quiet: { samples: r.quiet.length, p50: percentile(r.quiet, 50), p99: percentile(r.quiet, 99) },
  });
  return {
    rows,
    details: { members: n, stormMs, settle, parley: summary(p), floor: summary(f) },
  };
}
