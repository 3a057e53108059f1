import { eachSide, postMessage, startFloor, startParley } from '../lib/parley.ts';
import { cpuMs, now, type ServerProc, startStreamClient, waitIdle } from '../lib/procs.ts';
import { createDb, type SeededUser, seedGroup, seedUsers } from '../lib/seed.ts';
import { ascending, percentile } from '../lib/stats.ts';
import { type BenchContext, fmt, type ScenarioResult } from '../lib/types.ts';
import { runSide as listenAndSend, summary } from './fan-out.ts';

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
  // Then the same group listening in a loop (each client polls again as soon as it is answered),
  // messages one at a time: the server's CPU per message, on long-poll and, on Parley, over SSE.
  const rounds = ctx.quick ? 3 : 20;
  const db = await createDb('long-poll');
  const [sender, ...members] = await seedUsers(db, n + 1, 'poll');
  const conversationId = seedGroup(
    db,
    sender!.id,
    members.map((m) => m.id),
  );
  const out: Record<string, Awaited<ReturnType<typeof runSide>>> = {};
  const loops: Record<string, Awaited<ReturnType<typeof listenAndSend>>['single']> = {};
  let sse: Awaited<ReturnType<typeof listenAndSend>>['single'] | undefined;
  await eachSide(
    { floor: () => startFloor('long-poll.ts'), parley: () => startParley(ctx, 'long-poll', db) },
    async (side, server) => {
      out[side] = await runSide(server, members, sender!, conversationId);
      const l = out[side].latencies;
      ctx.log(
        `long-poll ${side}: woke ${out[side].woken}, p99 ${percentile(l, 99).toFixed(1)} ms, failures ${out[side].failures}`,
      );
      const listen = (transport: 'sse' | 'poll') =>
        listenAndSend(server, members, sender!, conversationId, rounds, null, transport);
      loops[side] = (await listen('poll')).single;
      // The floor has no SSE; Parley's own SSE figure for the same group is the comparison.
      if (side === 'parley') sse = (await listen('sse')).single;
      ctx.log(
        `long-poll ${side} in a loop: ${loops[side].cpuPerMessageMs.toFixed(0)} ms CPU per message${sse ? `, over SSE ${sse.cpuPerMessageMs.toFixed(0)}` : ''}`,
      );
    },
  );
  // The floor's logic behind bare Koa + @koa/router, the framework Parley's routes run in: how much
  // of Parley's loop CPU the framework alone costs.
  const koa = await startFloor('long-poll-koa.ts');
  let kl: typeof sse;
  try {
    kl = (await listenAndSend(koa, members, sender!, conversationId, rounds, null, 'poll')).single;
  } finally {
    await koa.stop();
  }
  ctx.log(`long-poll floor in bare Koa, in a loop: ${kl.cpuPerMessageMs.toFixed(0)} ms CPU per message`);
  const p = out.parley!;
  const f = out.floor!;
  const pl = loops.parley!;
  const fl = loops.floor!;
  const size = `${fmt(n)} waiting polls`;
  const inALoop = `${fmt(n)} members polling in a loop, ${rounds} msgs one at a time`;
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
      {
        scenario: 'long-poll',
        size: inALoop,
        metric: 'server CPU per message (until idle, delivered marks flushed)',
        unit: 'ms',
        parley: pl.cpuPerMessageMs,
        floor: fl.cpuPerMessageMs,
        goal: { kind: 'report' },
      },
      {
        scenario: 'long-poll',
        size: `${fmt(n)}-member group, ${rounds} msgs one at a time`,
        metric:
          'server CPU per message: long-poll in a loop ÷ SSE (floor column: Parley over SSE, same group)',
        unit: 'ms',
        parley: pl.cpuPerMessageMs,
        floor: sse!.cpuPerMessageMs,
        goal: { kind: 'at-most', ratio: 3 },
      },
      {
        scenario: 'long-poll',
        size: inALoop,
        metric:
          "server CPU per message (floor column: the floor's logic in bare Koa + @koa/router, no auth, validation, headers or database)",
        unit: 'ms',
        parley: pl.cpuPerMessageMs,
        floor: kl.cpuPerMessageMs,
        goal: { kind: 'report' },
      },
      {
        scenario: 'long-poll',
        size: inALoop,
        metric:
          'deliveries missing + failed sends + dropped (in a loop; Parley: and over SSE; floor: and in Koa)',
        unit: 'count',
        parley: pl.missing + pl.failedSends + pl.dropped + sse!.missing + sse!.failedSends + sse!.dropped,
        floor: fl.missing + fl.failedSends + fl.dropped + kl.missing + kl.failedSends + kl.dropped,
        goal: { kind: 'zero' },
      },
    ],
    distributions: { 'long-poll': { parley: p.latencies, floor: f.latencies } },
    details: Object.fromEntries(
      Object.entries(out).map(([side, r]) => [
        side,
        {
          inALoop: summary(loops[side]!),
          ...(side === 'parley' ? { overSse: summary(sse!) } : { inALoopInKoa: summary(kl) }),
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
