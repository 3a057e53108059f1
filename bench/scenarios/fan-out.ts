import { eachSide, postMessage, startFloor, startParley } from '../lib/parley.ts';
import {
  cpuMs,
  type LoadProc,
  now,
  type ServerProc,
  sleep,
  sseOpen,
  startStreamClient,
  waitIdle,
} from '../lib/procs.ts';
import { createDb, type SeededUser, seedGroup, seedUsers } from '../lib/seed.ts';
import { ascending, percentile } from '../lib/stats.ts';
import { type BenchContext, fmt, type Row, type ScenarioResult } from '../lib/types.ts';

export interface Measured {
  latencies: number[];
  failedSends: number;
  missing: number;
  dropped: number;
}

/** Sends marked messages at the given times and gathers every stream's arrival of each. */
export async function measure(
  client: LoadProc,
  send: (seq: number) => Promise<number>,
  streams: number,
  first: number,
  count: number,
  intervalMs: number,
): Promise<Measured> {
  const sentAt = new Map<number, number>();
  const sends: Promise<number>[] = [];
  const got = new Map<number, number[]>();
  let dropped = 0;
  const gather = async () => {
    const r = await client.request<{ arrivals: [number, number[]][]; dropped: number }>(
      { op: 'collect' },
      'arrivals',
    );
    dropped = r.dropped;
    for (const [seq, times] of r.arrivals) got.set(seq, [...(got.get(seq) ?? []), ...times]);
  };
  const complete = (seq: number) => (got.get(seq)?.length ?? 0) >= streams;
  for (let seq = first; seq < first + count; seq++) {
    if (intervalMs > 0) {
      const due = (sentAt.get(first) ?? now()) + (seq - first) * intervalMs;
      const wait = due - now();
      if (wait > 0) await sleep(wait);
    }
    sentAt.set(seq, now());
    sends.push(send(seq));
    if (intervalMs === 0) {
      // One message at a time: wait until every stream has it before the next.
      const deadline = now() + 10_000;
      do {
        await sleep(Math.min(50, 5 + streams / 200));
        await gather();
      } while (!complete(seq) && now() < deadline);
    }
  }
  const statuses = await Promise.all(sends);
  const deadline = now() + 10_000;
  while (now() < deadline && ![...sentAt.keys()].every(complete)) {
    await sleep(100);
    await gather();
  }
  const latencies: number[] = [];
  let missing = 0;
  for (const [seq, t0] of sentAt) {
    const times = got.get(seq) ?? [];
    missing += Math.max(0, streams - times.length);
    for (const t of times) latencies.push(t - t0);
  }
  const failedSends = statuses.filter((s) => s !== 201).length;
  return { latencies: ascending(latencies), missing, dropped, failedSends };
}

// Parley's DELIVERY_FLUSH_MS (the default): the delivered marks of a message are written this long
// after it, and that work is the message's too.
const DELIVERY_FLUSH_MS = 1000;

/**
 * `measure`, one message at a time, with the server's CPU per message: from the first send until
 * the server is idle again after the last one's delivered marks were flushed.
 */
async function measureCpu(
  server: ServerProc,
  client: LoadProc,
  send: (seq: number) => Promise<number>,
  streams: number,
  rounds: number,
): Promise<Measured & { cpuPerMessageMs: number }> {
  await waitIdle(server.pid, 10_000);
  const cpu0 = cpuMs(server.pid);
  const m = await measure(client, send, streams, 0, rounds, 0);
  await sleep(DELIVERY_FLUSH_MS + 200);
  await waitIdle(server.pid, 10_000);
  return { ...m, cpuPerMessageMs: (cpuMs(server.pid) - cpu0) / rounds };
}

/**
 * Each member listening — an SSE stream each, or (`poll`) a long-poll loop each, polling again as
 * soon as an answer arrives — then `rounds` messages one at a time with the server's CPU per
 * message, then optionally a sustained rate.
 */
export async function runSide(
  server: ServerProc,
  members: SeededUser[],
  sender: SeededUser,
  conversationId: number,
  rounds: number,
  sustained: { perSecond: number; seconds: number } | null,
  transport: 'sse' | 'poll' = 'sse',
) {
  const client = await startStreamClient();
  try {
    if (transport === 'sse') {
      const opened = await client.request<{ ok: number; statuses: Record<string, number> }>(
        sseOpen(server, members),
        'opened',
      );
      if (opened.ok !== members.length) throw new Error(`fan-out: opened ${JSON.stringify(opened.statuses)}`);
    } else {
      const { host, port } = server;
      const tokens = members.map((m) => m.token);
      await client.request(
        { op: 'poll-loops', host, port, tokens, timeout: 60, concurrency: 200 },
        'polling',
      );
    }
    const post = (body: string) => postMessage(server.url, conversationId, sender.token, body);
    for (let i = 0; i < 3; i++) await post('warm-up'); // connection to the server, JIT
    await sleep(200);
    const send = (seq: number) => post(`bench-${seq}-fan-out`);
    const single = await measureCpu(server, client, send, members.length, rounds);
    const loaded = sustained
      ? await measure(
          client,
          send,
          members.length,
          rounds,
          sustained.perSecond * sustained.seconds,
          1000 / sustained.perSecond,
        )
      : null;
    return { single, loaded };
  } finally {
    await client.close();
  }
}

/** One message to a group whose members each hold an SSE stream; send→receive latency vs a raw broadcast. */
export async function fanOut(ctx: BenchContext): Promise<ScenarioResult> {
  const sizes = ctx.quick ? [50] : [1000, 5000];
  const rounds = ctx.quick ? 3 : 20;
  const sustained = { perSecond: 20, seconds: ctx.quick ? 1 : 10 };
  const rows: Row[] = [];
  const details: Record<string, unknown> = {};
  const distributions: NonNullable<ScenarioResult['distributions']> = {};
  for (const [i, size] of sizes.entries()) {
    const db = await createDb(`fan-out-${size}`);
    const users = await seedUsers(db, size + 1, 'fan');
    const [sender, ...members] = users;
    const conversationId = seedGroup(
      db,
      sender!.id,
      members.map((m) => m.id),
    );
    const withLoad = i === 0 ? sustained : null;
    const out: Record<string, Awaited<ReturnType<typeof runSide>>> = {};
    await eachSide(
      { floor: () => startFloor('sse.ts'), parley: () => startParley(ctx, 'fan-out', db) },
      async (side, server) => {
        out[side] = await runSide(server, members, sender!, conversationId, rounds, withLoad);
        const s = out[side].single.latencies;
        ctx.log(
          `fan-out ${size} ${side}: p50 ${percentile(s, 50).toFixed(1)} ms, p99 ${percentile(s, 99).toFixed(1)} ms`,
        );
      },
    );
    const p = out.parley!;
    const f = out.floor!;
    const label = `${fmt(size)} streams`;
    rows.push({
      scenario: 'fan-out',
      size: `${label}, ${rounds} msgs one at a time`,
      metric: 'p99 send→receive',
      unit: 'ms',
      parley: percentile(p.single.latencies, 99),
      floor: percentile(f.single.latencies, 99),
      goal: { kind: 'at-most', ratio: 2 },
    });
    if (p.loaded && f.loaded) {
      rows.push({
        scenario: 'fan-out',
        size: `${label}, ${sustained.perSecond} msg/s for ${sustained.seconds} s`,
        metric: 'p99 send→receive',
        unit: 'ms',
        parley: percentile(p.loaded.latencies, 99),
        floor: percentile(f.loaded.latencies, 99),
        goal: { kind: 'at-most', ratio: 2 },
      });
    }
    rows.push({
      scenario: 'fan-out',
      size: `${label}, ${rounds} msgs one at a time`,
      metric: 'server CPU per message (until idle, delivered marks flushed)',
      unit: 'ms',
      parley: p.single.cpuPerMessageMs,
      floor: f.single.cpuPerMessageMs,
      goal: { kind: 'report' },
    });
    rows.push({
      scenario: 'fan-out',
      size: label,
      metric: 'deliveries missing',
      unit: 'count',
      parley: p.single.missing + (p.loaded?.missing ?? 0),
      floor: f.single.missing + (f.loaded?.missing ?? 0),
      goal: { kind: 'zero' },
    });
    if (i === 0) distributions['fan-out'] = { parley: p.single.latencies, floor: f.single.latencies };
    details[String(size)] = Object.fromEntries(
      Object.entries(out).map(([side, r]) => [
        side,
        {
          single: summary(r.single),
          sustained: r.loaded ? summary(r.loaded) : null,
        },
      ]),
    );
  }
  return { rows, distributions, details };
}

export const summary = (m: Measured & { cpuPerMessageMs?: number }) => ({
  samples: m.latencies.length,
  p50: percentile(m.latencies, 50),
  p90: percentile(m.latencies, 90),
  p99: percentile(m.latencies, 99),
  max: m.latencies.at(-1) ?? null,
  missing: m.missing,
  dropped: m.dropped,
  failedSends: m.failedSends,
  cpuPerMessageMs: m.cpuPerMessageMs,
});
