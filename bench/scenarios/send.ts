import { eachSide, startFloor, startParley } from '../lib/parley.ts';
import { cannon } from '../lib/procs.ts';
import { createDb, seedGroup, seedUsers } from '../lib/seed.ts';
import type { BenchContext, ScenarioResult } from '../lib/types.ts';

/** POST /conversations/{id}/message with a bearer token, N connections, vs node:http + one INSERT. */
export async function send(ctx: BenchContext): Promise<ScenarioResult> {
  const connections = ctx.quick ? 10 : 100;
  const duration = ctx.quick ? 1 : 10;
  const db = await createDb('send');
  const floorDb = await createDb('send-floor');
  const [sender, other] = await seedUsers(db, 2, 'send');
  const conversationId = seedGroup(db, sender!.id, [other!.id]);
  // The floor writes into the same schema, so it needs the same rows its foreign keys point at.
  const [floorSender, floorOther] = await seedUsers(floorDb, 2, 'send');
  seedGroup(floorDb, floorSender!.id, [floorOther!.id]);
  const results = await eachSide(
    {
      floor: () => startFloor('send.ts', { FLOOR_DB: floorDb.file }),
      parley: () => startParley(ctx, 'send', db),
    },
    async (side, server) => {
      const options = {
        url: `${server.url}/conversations/${conversationId}/message`,
        method: 'POST',
        connections,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${sender!.token}` },
        body: JSON.stringify({ body: 'Hello from the bench: a message of a typical length.' }),
      };
      if (!ctx.quick) await cannon({ ...options, duration: 2 }); // warm-up: JIT and page cache
      const r = await cannon({ ...options, duration });
      ctx.log(`send ${side}: ${Math.round(r.rps)} req/s, p99 ${r.p99} ms`);
      return r;
    },
  );
  const size = `${connections} connections, ${duration} s`;
  const p = results.parley;
  const f = results.floor;
  return {
    rows: [
      {
        scenario: 'send',
        size,
        metric: 'throughput',
        unit: 'req/s',
        parley: p.rps,
        floor: f.rps,
        goal: { kind: 'at-least', ratio: 0.5 },
      },
      {
        scenario: 'send',
        size,
        metric: 'p99 latency',
        unit: 'ms',
        parley: p.p99,
        floor: f.p99,
        goal: { kind: 'at-most', ratio: 2 },
      },
      {
        scenario: 'send',
        size,
        metric: 'non-2xx + errors',
        unit: 'count',
        parley: p.non2xx + p.errors,
        floor: f.non2xx + f.errors,
        goal: { kind: 'zero' },
      },
    ],
    details: { connections, durationS: duration, parley: p, floor: f },
  };
}
