import { eachSide, startFloor, startParley } from '../lib/parley.ts';
import { type ServerProc, startStreamClient } from '../lib/procs.ts';
import { createDb, type SeededUser, seedGroup, seedMessages, seedUsers } from '../lib/seed.ts';
import { median } from '../lib/stats.ts';
import { type BenchContext, fmt, type ScenarioResult } from '../lib/types.ts';

interface Drained {
  ms: number;
  events: number;
  error?: string;
}

async function runSide(server: ServerProc, user: SeededUser, cursor: string, repeats: number) {
  const client = await startStreamClient();
  const sse: Drained[] = [];
  const poll: Drained[] = [];
  try {
    for (let i = 0; i < repeats; i++) {
      sse.push(
        await client.request<Drained>(
          {
            op: 'drain-sse',
            host: server.host,
            port: server.port,
            request: { path: `/events?cursor=${cursor}`, token: user.token },
            ready: ': live',
          },
          'drained',
        ),
      );
      poll.push(
        await client.request<Drained>(
          {
            op: 'drain-poll',
            host: server.host,
            port: server.port,
            pathOf: '/events/poll',
            token: user.token,
            cursor,
          },
          'drained',
        ),
      );
    }
  } finally {
    await client.close();
  }
  return { sse, poll };
}

/** A client that missed N events resumes from its cursor: time to drain them over SSE and long-poll. */
export async function catchUp(ctx: BenchContext): Promise<ScenarioResult> {
  const n = ctx.quick ? 500 : 10_000;
  const repeats = ctx.quick ? 1 : 5;
  const db = await createDb('catch-up');
  const [reader, other] = await seedUsers(db, 2, 'late');
  const conversationId = seedGroup(db, reader!.id, [other!.id]);
  const { firstEventId } = seedMessages(db, conversationId, other!.id, n, { events: true });
  const cursor = String(firstEventId - 1);
  const out: Record<string, Awaited<ReturnType<typeof runSide>>> = {};
  await eachSide(
    {
      floor: () => startFloor('catch-up.ts', { FLOOR_DB: db.file }),
      parley: () => startParley(ctx, 'catch-up', db),
    },
    async (side, server) => {
      out[side] = await runSide(server, reader!, cursor, repeats);
      ctx.log(
        `catch-up ${side}: SSE ${median(out[side].sse.map((d) => d.ms)).toFixed(0)} ms, poll ${median(out[side].poll.map((d) => d.ms)).toFixed(0)} ms`,
      );
    },
  );
  const p = out.parley!;
  const f = out.floor!;
  const size = `${fmt(n)} events missed, median of ${repeats}`;
  const wrong = (d: Drained[]) => d.filter((x) => x.events !== n || x.error).length;
  return {
    rows: [
      {
        scenario: 'catch-up',
        size,
        metric: 'drain over SSE',
        unit: 'ms',
        parley: median(p.sse.map((d) => d.ms)),
        floor: median(f.sse.map((d) => d.ms)),
        goal: { kind: 'report' },
      },
      {
        scenario: 'catch-up',
        size,
        metric: 'drain over long-poll',
        unit: 'ms',
        parley: median(p.poll.map((d) => d.ms)),
        floor: median(f.poll.map((d) => d.ms)),
        goal: { kind: 'report' },
      },
      {
        scenario: 'catch-up',
        size,
        metric: 'drains with a wrong event count',
        unit: 'count',
        parley: wrong([...p.sse, ...p.poll]),
        floor: wrong([...f.sse, ...f.poll]),
        goal: { kind: 'zero' },
      },
    ],
    details: { events: n, out },
  };
}
