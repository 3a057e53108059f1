import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabase } from '../../lib/dialects/index.ts';
import { eachSide, postMessage, type Side, startFloor, startParley } from '../lib/parley.ts';
import {
  type CannonResult,
  cannon,
  type ServerProc,
  sleep,
  sseOpen,
  startStreamClient,
} from '../lib/procs.ts';
import { type SeededUser, seedGroupOver } from '../lib/seed.ts';
import { percentile } from '../lib/stats.ts';
import { type BenchContext, fmt, type Row, type ScenarioResult } from '../lib/types.ts';
import { type Measured, measure } from './fan-out.ts';

const PG_URL = process.env.PARLEY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Two nodes of one side on one PostgreSQL schema. */
interface Pair {
  nodes: [ServerProc, ServerProc];
  stop(): Promise<void>;
}

async function pair(start: () => Promise<ServerProc>): Promise<Pair> {
  const started = await Promise.allSettled([start(), start()]);
  const nodes = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const stop = async () => {
    const stopped = await Promise.allSettled(nodes.map((n) => n.stop()));
    const died = stopped.find((s) => s.status === 'rejected');
    if (died) throw died.reason;
  };
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await stop().catch(() => {});
    throw failed.reason;
  }
  return { nodes: nodes as [ServerProc, ServerProc], stop };
}

/** Null when PostgreSQL answers, else why not (one line). */
async function unreachable(): Promise<string | null> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    return `no PostgreSQL at ${PG_URL.replace(/\/\/[^@]*@/, '//…@')} (${(err as Error).message.split('\n')[0]})`;
  } finally {
    await client.end().catch(() => {});
  }
}

/** A fresh schema with Parley's tables and one group of `n` seeded users (the first owns it). */
async function schemaWithGroup(schema: string, secret: string, n: number) {
  const { db, dialect } = openDatabase({ client: 'postgres', connectionString: PG_URL, schema });
  try {
    await dialect.migrate(db);
    return await seedGroupOver(db, secret, n, 'node');
  } finally {
    await db.destroy();
  }
}

async function dropSchemas(schemas: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** Sends through both nodes at once, half the connections each (one autocannon process per node). */
async function sendBoth(
  nodes: ServerProc[],
  conversationId: number,
  token: string,
  connections: number,
  duration: number,
) {
  const results = await Promise.all(
    nodes.map((n) =>
      cannon({
        url: `${n.url}/conversations/${conversationId}/message`,
        method: 'POST',
        connections: connections / nodes.length,
        duration,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ body: 'Hello from the bench: a message of a typical length.' }),
      }),
    ),
  );
  return {
    rps: results.reduce((s, r) => s + r.rps, 0),
    // The slower node's p99: a conservative figure for the whole.
    p99: Math.max(...results.map((r) => r.p99)),
    errors: results.reduce((s, r) => s + r.non2xx + r.errors, 0),
    perNode: results as CannonResult[],
  };
}

async function runSide(
  ctx: BenchContext,
  nodes: [ServerProc, ServerProc],
  users: SeededUser[],
  conversationId: number,
  load: { connections: number; duration: number; rounds: number; perSecond: number; seconds: number },
) {
  const [sender, ...members] = users as [SeededUser, ...SeededUser[]];
  if (!ctx.quick) await sendBoth(nodes, conversationId, sender.token, load.connections, 2); // warm-up
  const send = await sendBoth(nodes, conversationId, sender.token, load.connections, load.duration);
  const client = await startStreamClient();
  try {
    // Half the members stream from each node; the sender posts to the first.
    const halves = [members.filter((_, i) => i % 2 === 0), members.filter((_, i) => i % 2 === 1)];
    for (const [i, node] of nodes.entries()) {
      const opened = await client.request<{ ok: number; statuses: Record<string, number> }>(
        sseOpen(node, halves[i]!),
        'opened',
      );
      if (opened.ok !== halves[i]!.length)
        throw new Error(`cluster: opened ${JSON.stringify(opened.statuses)}`);
    }
    const post = (body: string) => postMessage(nodes[0].url, conversationId, sender.token, body);
    for (let i = 0; i < 3; i++) await post('warm-up');
    await sleep(200);
    const fanOut = (seq: number) => post(`bench-${seq}-cluster`);
    const single = await measure(client, fanOut, members.length, 0, load.rounds, 0);
    const loaded = await measure(
      client,
      fanOut,
      members.length,
      load.rounds,
      load.perSecond * load.seconds,
      1000 / load.perSecond,
    );
    return { send, single, loaded };
  } finally {
    await client.close();
  }
}

/**
 * PostgreSQL, two nodes: sends through both nodes, and fan-out to streams split across them,
 * against a floor of two node:http processes with a `pg` INSERT and a LISTEN/NOTIFY broadcast.
 * Ratios only, no goal yet. Skips (one line) when no PostgreSQL answers.
 */
export async function cluster(ctx: BenchContext): Promise<ScenarioResult> {
  const reason = await unreachable();
  if (reason) return { rows: [], details: { skipped: reason }, skipped: reason };
  const streams = ctx.quick ? 50 : 1000;
  const load = {
    connections: ctx.quick ? 10 : 100,
    duration: ctx.quick ? 1 : 10,
    rounds: ctx.quick ? 3 : 20,
    perSecond: 20,
    seconds: ctx.quick ? 1 : 10,
  };
  const tag = `bench_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const schemas = { parley: `${tag}_parley`, floor: `${tag}_floor` };
  const secret = randomBytes(32).toString('base64url');
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-bench-cluster-'));
  try {
    const [parleySeed, floorSeed] = await Promise.all([
      schemaWithGroup(schemas.parley, secret, streams + 1),
      schemaWithGroup(schemas.floor, secret, streams + 1),
    ]);
    const seeded = { parley: parleySeed, floor: floorSeed };
    const parleyEnv = {
      DATABASE_URL: withSchema(PG_URL, schemas.parley),
      SESSION_SECRET: secret,
      DATA_DIR: dataDir,
    };
    const out = await eachSide<Awaited<ReturnType<typeof runSide>>, Pair>(
      {
        floor: () =>
          pair(() =>
            startFloor('cluster.ts', {
              FLOOR_PG_URL: PG_URL,
              FLOOR_PG_SCHEMA: schemas.floor,
              FLOOR_SENDER_ID: String(seeded.floor.users[0]!.id),
            }),
          ),
        parley: () =>
          pair(() => startParley(ctx, 'cluster', { dir: dataDir, file: '', secret, env: parleyEnv })),
      },
      async (side: Side, p) => {
        const r = await runSide(ctx, p.nodes, seeded[side].users, seeded[side].conversationId, load);
        ctx.log(
          `cluster ${side}: send ${Math.round(r.send.rps)} req/s p99 ${r.send.p99} ms; fan-out p99 ${percentile(r.single.latencies, 99).toFixed(1)} ms`,
        );
        return r;
      },
    );
    return { rows: rowsOf(out, streams, load), details: detailsOf(out, streams) };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    await dropSchemas([schemas.parley, schemas.floor]).catch((err) =>
      ctx.log(`cluster: dropping the bench schemas failed: ${String(err)}`),
    );
  }
}

const withSchema = (url: string, schema: string) => {
  const u = new URL(url);
  u.searchParams.set('schema', schema);
  return u.toString();
};

type Out = Record<Side, { send: Awaited<ReturnType<typeof sendBoth>>; single: Measured; loaded: Measured }>;

function rowsOf(
  out: Out,
  streams: number,
  load: { connections: number; duration: number; rounds: number; perSecond: number; seconds: number },
): Row[] {
  const p = out.parley;
  const f = out.floor;
  const report = { kind: 'report' } as const;
  const sendSize = `PostgreSQL, 2 nodes, ${load.connections} connections split, ${load.duration} s`;
  const fanSize = `PostgreSQL, 2 nodes, ${fmt(streams)} streams split`;
  return [
    {
      scenario: 'cluster',
      size: sendSize,
      metric: 'send throughput (both nodes)',
      unit: 'req/s',
      parley: p.send.rps,
      floor: f.send.rps,
      goal: report,
    },
    {
      scenario: 'cluster',
      size: sendSize,
      metric: 'send p99 latency (slower node)',
      unit: 'ms',
      parley: p.send.p99,
      floor: f.send.p99,
      goal: report,
    },
    {
      scenario: 'cluster',
      size: sendSize,
      metric: 'send non-2xx + errors',
      unit: 'count',
      parley: p.send.errors,
      floor: f.send.errors,
      goal: { kind: 'zero' },
    },
    {
      scenario: 'cluster',
      size: `${fanSize}, ${load.rounds} msgs one at a time`,
      metric: 'fan-out p99 send→receive',
      unit: 'ms',
      parley: percentile(p.single.latencies, 99),
      floor: percentile(f.single.latencies, 99),
      goal: report,
    },
    {
      scenario: 'cluster',
      size: `${fanSize}, ${load.perSecond} msg/s for ${load.seconds} s`,
      metric: 'fan-out p99 send→receive',
      unit: 'ms',
      parley: percentile(p.loaded.latencies, 99),
      floor: percentile(f.loaded.latencies, 99),
      goal: report,
    },
    {
      scenario: 'cluster',
      size: fanSize,
      metric: 'fan-out deliveries missing + failed sends',
      unit: 'count',
      parley: p.single.missing + p.loaded.missing + p.single.failedSends + p.loaded.failedSends,
      floor: f.single.missing + f.loaded.missing + f.single.failedSends + f.loaded.failedSends,
      goal: { kind: 'zero' },
    },
  ];
}

function detailsOf(out: Out, streams: number) {
  const summary = (m: Measured) => ({
    samples: m.latencies.length,
    p50: percentile(m.latencies, 50),
    p99: percentile(m.latencies, 99),
    max: m.latencies.at(-1) ?? null,
    missing: m.missing,
    dropped: m.dropped,
    failedSends: m.failedSends,
  });
  return {
    pg: PG_URL.replace(/\/\/[^@]*@/, '//…@'),
    streams,
    ...Object.fromEntries(
      Object.entries(out).map(([side, r]) => [
        side,
        { send: r.send, single: summary(r.single), sustained: summary(r.loaded) },
      ]),
    ),
  };
}
