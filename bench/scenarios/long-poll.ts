import { eachSide, postMessage, startFloor, startParley } from '../lib/parley.ts';
import { cpuMs, now, type ServerProc, startStreamClient, waitIdle } from '../lib/procs.ts';
import { createDb, type SeededUser, seedGroup, seedUsers } from '../lib/seed.ts';
import { ascending, percentile } from '../lib/stats.ts';
import { type BenchContext, fmt, type ScenarioResult } from '../lib/types.ts';

interface Polls {
  first: { at: number; status: number; events: number }[];
  repoll: { at: number; status: number }[];
  errors: number;
  otherWakes: number;
}

async function runSide(
  server: ServerProc,
  members: SeededUser[],
  sender: SeededUser,
  conversationId: number,
) {
  const head = await fetch(`${server.url}/events/poll?timeout=0`, {
    headers: { Authorization: `Bearer ${sender.token}` },
  });
  const { cursor } = (await head.json()) as { cursor: string };
  const client = await startStreamClient();
  try {
    await client.request(
      {
        op: 'poll-open',
        host: server.host,
        port: server.port,
        requests: members.map((m) => ({ path: `/events/poll?cursor=${cursor}&timeout=60`, token: m.token })),
        repollPath: '/events/poll',
        repollTimeout: 1,
        concurrency: 200,
      },
      'sent',
    );
    // A waiting poll sends nothing back, so "all parked" is awaited as the server going idle.
    await waitIdle(server.pid, 60_000);
    const cpuBefore = cpuMs(server.pid);
    const t0 = now();
    const status = await postMessage(server.url, conversationId, sender.token, 'bench-0-long-poll');
    const polls = await client.request<Polls>({ op: 'poll-collect', waitMs: 60_000 }, 'polls', 90_000);
    // The wake, the answers and the re-poll wave (each re-poll waits out its second, then answers).
    const cpu = cpuMs(server.pid) - cpuBefore;
    const woken = polls.first.filter((p) => p.status === 200 && p.events > 0);
    const failures =
      (status === 201 ? 0 : 1) +
      polls.errors +
      polls.first.filter((p) => p.status !== 200).length +
      polls.repoll.filter((p) => p.status !== 200).length;
    return {
      latencies: ascending(woken.map((p) => p.at - t0)),
      woken: woken.length,
      emptyAnswers: polls.first.filter((p) => p.status === 200 && p.events === 0).length,
      repolls: polls.repoll.length,
      otherWakes: polls.otherWakes,
      failures,
      cpu,
    };
  } finally {
    await client.close();
  }
}

/** Waiting long-polls woken by one message to their group; then every client polls again at once. */
export async function longPoll(ctx: BenchContext): Promise<ScenarioResult> {
  const n = ctx.quick ? 50 : 5000;
  const db = await createDb('long-poll');
  const [sender, ...members] = await seedUsers(db, n + 1, 'poll');
  const conversationId = seedGroup(
    db,
    sender!.id,
    members.map((m) => m.id),
  );
  const out: Record<string, Awaited<ReturnType<typeof runSide>>> = {};
  await eachSide(
    { floor: () => startFloor('long-poll.ts'), parley: () => startParley(ctx, 'long-poll', db) },
    async (side, server) => {
      out[side] = await runSide(server, members, sender!, conversationId);
      const l = out[side].latencies;
      ctx.log(
        `long-poll ${side}: woke ${out[side].woken}, p99 ${percentile(l, 99).toFixed(1)} ms, failures ${out[side].failures}`,
      );
    },
  );
  const p = out.parley!;
  const f = out.floor!;
  const size = `${fmt(n)} waiting polls`;
  return {
    rows: [
      {
        scenario: 'long-poll',
        size,
        metric: 'p99 wake',
        unit: 'ms',
        parley: percentile(p.latencies, 99),
        floor: percentile(f.latencies, 99),
        goal: { kind: 'at-most', ratio: 2 },
      },
      {
        scenario: 'long-poll',
        size,
        metric: 'server CPU for the message, its answers and the re-poll wave',
        unit: 'ms',
        parley: p.cpu,
        floor: f.cpu,
        goal: { kind: 'report' },
      },
      {
        scenario: 'long-poll',
        size,
        metric: 'not woken + errors (incl. re-poll wave)',
        unit: 'count',
        parley: p.failures + (n - p.woken),
        floor: f.failures + (n - f.woken),
        goal: { kind: 'zero' },
      },
    ],
    distributions: { 'long-poll': { parley: p.latencies, floor: f.latencies } },
    details: Object.fromEntries(
      Object.entries(out).map(([side, r]) => [
        side,
        {
          woken: r.woken,
          emptyAnswers: r.emptyAnswers,
          repolls: r.repolls,
          otherWakes: r.otherWakes,
          failures: r.failures,
          cpuMs: r.cpu,
          p50: percentile(r.latencies, 50),
          p90: percentile(r.latencies, 90),
          p99: percentile(r.latencies, 99),
          max: r.latencies.at(-1) ?? null,
        },
      ]),
    ),
  };
}
