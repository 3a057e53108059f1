import { eachSide, type Side, startFloor, startParley } from '../lib/parley.ts';
import {
  cpuMs,
  LoadProc,
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

// Parley's default: delivered marks (and the receipts back to the sender) are on, as users run it.
const DELIVERY_FLUSH_MS = 1000;
// The goal: the highest rate at which the receiver's p99 (from each message's scheduled send time)
// stays within this.
const HELD_P99_MS = 50;
// A rung whose p99 passes this is saturation: the ladder stops there.
const SATURATED_P99_MS = 500;
// Keep-alive connections the sender spreads its POSTs over (no pipelining).
const SENDER_CONNECTIONS = 32;

type Transport = 'sse' | 'poll';

interface Rung {
  perSecond: number;
  sent: number;
  received: number;
  failedSends: number;
  p50: number;
  p99: number;
  max: number;
  /** Server CPU from the rung's first send until its last delivery and the delivered-mark flush after it. */
  cpuMs: number;
  cpuPercent: number;
  usPerMessage: number;
  held: boolean;
}

/** Sends `count` messages at `perSecond` and waits until each reached the receiver (or a deadline). */
async function rung(
  server: ServerProc,
  sender: LoadProc,
  receiver: LoadProc,
  message: { conversationId: number; token: string },
  perSecond: number,
  count: number,
  first: number,
  flushWait = true,
): Promise<Rung> {
  const cpu0 = cpuMs(server.pid);
  const t0 = now();
  const rated = await sender.request<{ startedAt: number; statuses: Record<string, number> }>(
    {
      op: 'rate',
      host: server.host,
      port: server.port,
      path: `/conversations/${message.conversationId}/message`,
      token: message.token,
      perSecond,
      count,
      first,
      connections: SENDER_CONNECTIONS,
    },
    'rated',
    count * 10 + 120_000,
  );
  const arrived = new Map<number, number>();
  const deadline = now() + 15_000;
  while (arrived.size < count && now() < deadline) {
    const r = await receiver.request<{ arrivals: [number, number[]][] }>({ op: 'collect' }, 'arrivals');
    for (const [seq, times] of r.arrivals) if (seq >= first) arrived.set(seq, times[0]!);
    if (arrived.size < count) await sleep(50);
  }
  // The delivered marks of the last messages are written at the next flush: count its CPU too.
  if (flushWait) await sleep(DELIVERY_FLUSH_MS + 200);
  const cpu = cpuMs(server.pid) - cpu0;
  const elapsed = now() - t0;
  const latencies = ascending(
    [...arrived].map(([seq, at]) => at - (rated.startedAt + ((seq - first) * 1000) / perSecond)),
  );
  const failedSends = count - (rated.statuses['201'] ?? 0);
  const p99 = percentile(latencies, 99);
  return {
    perSecond,
    sent: count,
    received: arrived.size,
    failedSends,
    p50: percentile(latencies, 50),
    p99,
    max: latencies.at(-1) ?? Number.NaN,
    cpuMs: cpu,
    cpuPercent: (cpu / elapsed) * 100,
    usPerMessage: (cpu * 1000) / Math.max(1, arrived.size),
    held: p99 <= HELD_P99_MS && arrived.size === count && failedSends === 0,
  };
}

/** The sender's process, holding the sender's own stream as a client does: receipts come back on it. */
async function startSender(server: ServerProc, sender: SeededUser): Promise<LoadProc> {
  const out = new LoadProc('bench/load/sender.ts');
  await out.next('ready', 60_000);
  await out.request(
    {
      op: 'watch',
      host: server.host,
      port: server.port,
      request: { path: '/events', token: sender.token },
      count: 'event: receipt.updated',
    },
    'watching',
  );
  return out;
}

async function runSide(
  ctx: BenchContext,
  server: ServerProc,
  transport: Transport,
  out: LoadProc,
  sender: SeededUser,
  receiver: SeededUser,
  conversationId: number,
  ladder: number[],
  rungMs: number,
) {
  // A ladder that ended in saturation may leave a backlog: the next one starts on an idle server.
  await waitIdle(server.pid, 30_000);
  const streams = await startStreamClient();
  try {
    const { count: receiptsBefore } = await out.request<{ count: number }>({ op: 'watched' }, 'watched');
    if (transport === 'sse') {
      const opened = await streams.request<{ ok: number; statuses: Record<string, number> }>(
        sseOpen(server, [receiver]),
        'opened',
      );
      if (opened.ok !== 1) throw new Error(`one-to-one: receiver stream ${JSON.stringify(opened.statuses)}`);
    } else {
      await streams.request(
        { op: 'poll-loop', host: server.host, port: server.port, token: receiver.token, timeout: 25 },
        'polling',
      );
    }
    const message = { conversationId, token: sender.token };
    let seq = 0;
    // Warm-up (JIT, connections), not measured.
    const warm = ladder[0]!;
    await rung(server, out, streams, message, warm, Math.ceil(warm / 2), seq, false);
    seq += Math.ceil(warm / 2);
    const rungs: Rung[] = [];
    for (const perSecond of ladder) {
      const count = Math.round((perSecond * rungMs) / 1000);
      const r = await rung(server, out, streams, message, perSecond, count, seq);
      seq += count;
      rungs.push(r);
      ctx.log(
        `one-to-one ${transport} ${server.name}: ${fmt(perSecond)} msg/s → p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ${r.received}/${r.sent} received, CPU ${r.cpuPercent.toFixed(0)} %`,
      );
      if (!(r.p99 <= SATURATED_P99_MS) || r.received < count) break;
    }
    const { count: receipts } = await out.request<{ count: number }>({ op: 'watched' }, 'watched');
    const { dropped } = await streams.request<{ dropped: number }>({ op: 'collect' }, 'arrivals');
    return { rungs, receipts: receipts - receiptsBefore, dropped };
  } finally {
    await streams.close();
  }
}

/**
 * 1:1 messaging with delivered receipts: one sender POSTing at a rate ladder, one receiver on SSE
 * (then on long-poll), the receipts flowing back to the sender's stream. Reports the highest rate
 * held at p99 ≤ 50 ms and the server's CPU per delivered message.
 */
export async function oneToOne(ctx: BenchContext): Promise<ScenarioResult> {
  const ladder = ctx.quick ? [100] : [250, 500, 750, 1000, 1500, 2000, 3000, 4000, 6000, 8000];
  const rungMs = ctx.quick ? 1000 : 4000;
  const rows: Row[] = [];
  const details: Record<string, unknown> = { ladder, rungMs, senderConnections: SENDER_CONNECTIONS };
  const db = await createDb('one-to-one');
  const floorDb = await createDb('one-to-one-floor');
  const [sender, receiver] = (await seedUsers(db, 2, 'pair')) as [SeededUser, SeededUser];
  const [floorSender, floorReceiver] = (await seedUsers(floorDb, 2, 'pair')) as [SeededUser, SeededUser];
  const floorConversation = seedGroup(floorDb, floorSender.id, [floorReceiver.id]);
  // One server of each side for both transports: SSE's ladder, then long-poll's.
  const out = await eachSide(
    {
      floor: () =>
        startFloor('one-to-one.ts', {
          FLOOR_DB: floorDb.file,
          FLOOR_CONVERSATION_ID: String(floorConversation),
          FLOOR_SENDER_ID: String(floorSender.id),
          FLOOR_RECEIVER_ID: String(floorReceiver.id),
          FLOOR_SENDER_TOKEN: floorSender.token,
          DELIVERY_FLUSH_MS: String(DELIVERY_FLUSH_MS),
        }),
      parley: () => startParley(ctx, 'one-to-one', db, { DELIVERY_FLUSH_MS: String(DELIVERY_FLUSH_MS) }),
    },
    async (side: Side, server) => {
      const [from, to] = side === 'floor' ? [floorSender, floorReceiver] : [sender, receiver];
      const conversationId =
        side === 'floor' ? floorConversation : await directConversation(server, sender, receiver);
      const out = await startSender(server, from);
      try {
        return {
          sse: await runSide(ctx, server, 'sse', out, from, to, conversationId, ladder, rungMs),
          poll: await runSide(ctx, server, 'poll', out, from, to, conversationId, ladder, rungMs),
        };
      } finally {
        await out.close();
      }
    },
  );
  const ladderText =
    ladder.length === 1
      ? `${fmt(ladder[0]!)} msg/s`
      : `ladder ${fmt(ladder[0]!)}–${fmt(ladder.at(-1)!)} msg/s`;
  for (const transport of ['sse', 'poll'] as const) {
    const ran = (side: Side) => out[side][transport];
    const held = (side: Side) =>
      ran(side)
        .rungs.filter((r) => r.held)
        .at(-1)?.perSecond ?? 0;
    // CPU per message compares at one rate: the highest both sides held (else the lowest rung).
    const common = Math.min(held('parley'), held('floor')) || ladder[0]!;
    const at = (side: Side) => ran(side).rungs.find((r) => r.perSecond === common);
    const failures = (side: Side) =>
      ran(side).rungs.reduce((n, r) => n + r.failedSends, 0) + ran(side).dropped;
    const label = transport === 'sse' ? 'receiver on SSE' : 'receiver on long-poll';
    const size = `1:1, ${label}, delivered receipts on`;
    rows.push(
      {
        scenario: 'one-to-one',
        size: `${size}, ${ladderText}, ${rungMs / 1000} s a rung`,
        metric: `sustained rate at p99 ≤ ${HELD_P99_MS} ms`,
        unit: 'msg/s',
        parley: held('parley'),
        floor: held('floor'),
        goal: { kind: 'value-at-least', value: 3000 },
      },
      {
        scenario: 'one-to-one',
        size: `${size}, at ${fmt(common)} msg/s`,
        metric: 'server CPU per delivered message',
        unit: 'µs',
        parley: at('parley')?.usPerMessage ?? Number.NaN,
        floor: at('floor')?.usPerMessage ?? Number.NaN,
        goal: { kind: 'report' },
      },
      {
        scenario: 'one-to-one',
        size,
        metric: 'failed sends + dropped receiver connections',
        unit: 'count',
        parley: failures('parley'),
        floor: failures('floor'),
        goal: { kind: 'zero' },
      },
    );
    details[transport] = { parley: ran('parley'), floor: ran('floor') };
  }
  return { rows, details };
}

/** Parley's direct conversation between the two users, made through the API as a client would. */
async function directConversation(server: ServerProc, a: SeededUser, b: SeededUser): Promise<number> {
  const res = await fetch(`${server.url}/conversations`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${a.token}` },
    body: JSON.stringify({ participantIds: [String(b.id)] }),
  });
  const body = (await res.json()) as { id?: string };
  if (!res.ok || !body.id) throw new Error(`one-to-one: creating the conversation: ${res.status}`);
  return Number(body.id);
}
