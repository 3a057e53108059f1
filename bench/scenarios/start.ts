import { statSync } from 'node:fs';
import { startFloor, startParley } from '../lib/parley.ts';
import { createDb, seedGroup, seedMessages, seedUsers } from '../lib/seed.ts';
import { median } from '../lib/stats.ts';
import { type BenchContext, fmt, type ScenarioResult } from '../lib/types.ts';

const MiB = 2 ** 20;

/** Cold start (a new process) to the first 200 from /health on an existing, large database. */
export async function start(ctx: BenchContext): Promise<ScenarioResult> {
  const targetBytes = ctx.quick ? 8 * MiB : 1024 * MiB;
  const repeats = ctx.quick ? 1 : 3;
  const db = await createDb('start');
  const [a, b] = await seedUsers(db, 2, 'big');
  const conversationId = seedGroup(db, a!.id, [b!.id]);
  // ~1 KB bodies, each message with its event: about 2.3 KB of file per message with indexes.
  seedMessages(db, conversationId, a!.id, Math.ceil(targetBytes / 2300), { bodyBytes: 1000, events: true });
  const bytes = statSync(db.file).size;
  ctx.log(`start: database is ${(bytes / MiB).toFixed(0)} MiB`);
  const times: Record<string, number[]> = { parley: [], floor: [] };
  for (let i = 0; i < repeats; i++) {
    for (const side of ['floor', 'parley'] as const) {
      const server =
        side === 'parley'
          ? await startParley(ctx, 'start', db)
          : await startFloor('start.ts', { FLOOR_DB: db.file });
      times[side]!.push(server.startedInMs);
      await server.stop();
    }
  }
  return {
    rows: [
      {
        scenario: 'start',
        size: `${fmt(Math.round(bytes / MiB))} MiB database, median of ${repeats}`,
        metric: 'spawn → first 200 from /health',
        unit: 'ms',
        parley: median(times.parley!),
        floor: median(times.floor!),
        goal: { kind: 'report' },
      },
    ],
    details: { databaseBytes: bytes, times },
  };
}
