import { eachSide, startFloor, startParley } from '../lib/parley.ts';
import { type CannonResult, cannon, now } from '../lib/procs.ts';
import { createDb, seedGroup, seedMessages, seedUsers } from '../lib/seed.ts';
import { type BenchContext, fmt, type Row, type ScenarioResult } from '../lib/types.ts';

/** History pages of a conversation with a huge backlog, vs the raw indexed query behind node:http. */
export async function history(ctx: BenchContext): Promise<ScenarioResult> {
  const n = ctx.quick ? 5000 : 1_000_000;
  const duration = ctx.quick ? 1 : 5;
  const db = await createDb('history');
  const [reader, other] = await seedUsers(db, 2, 'hist');
  const conversationId = seedGroup(db, reader!.id, [other!.id]);
  const t0 = now();
  // Seeded after migrations, before Parley starts: Parley opens a database that already holds them.
  const { firstId } = seedMessages(db, conversationId, other!.id, n);
  const seedMs = now() - t0;
  ctx.log(`history: seeded ${fmt(n)} messages in ${(seedMs / 1000).toFixed(1)} s`);
  // "Deep" is 99% of the way back to the first message.
  const deepBefore = firstId + Math.floor(n / 100);
  const pages = {
    newest: `/conversations/${conversationId}?limit=50`,
    deep: `/conversations/${conversationId}?before=${deepBefore}&limit=50`,
  };
  const out: Record<string, Record<string, CannonResult>> = { parley: {}, floor: {} };
  await eachSide(
    {
      floor: () => startFloor('history.ts', { FLOOR_DB: db.file }),
      parley: () => startParley(ctx, 'history', db),
    },
    async (side, server) => {
      for (const [page, path] of Object.entries(pages)) {
        const options = {
          url: `${server.url}${path}`,
          connections: 10,
          headers: { authorization: `Bearer ${reader!.token}` },
        };
        if (!ctx.quick) await cannon({ ...options, duration: 1 });
        out[side]![page] = await cannon({ ...options, duration });
        ctx.log(`history ${side} ${page}: p99 ${out[side]![page]!.p99} ms`);
      }
    },
  );
  const size = `${fmt(n)} messages, 10 connections`;
  const rows: Row[] = [];
  for (const page of ['newest', 'deep'] as const) {
    const p = out.parley![page]!;
    const f = out.floor![page]!;
    const label = page === 'newest' ? 'newest page' : 'page 99% deep';
    rows.push(
      {
        scenario: 'history',
        size,
        metric: `${label} p99`,
        unit: 'ms',
        parley: p.p99,
        floor: f.p99,
        goal: { kind: 'at-most', ratio: 2 },
      },
      {
        scenario: 'history',
        size,
        metric: `${label} throughput`,
        unit: 'req/s',
        parley: p.rps,
        floor: f.rps,
        goal: { kind: 'report' },
      },
    );
  }
  return { rows, details: { messages: n, seedMs, deepBefore, ...out } };
}
