import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eachSide, postJson, startFloor, startParley } from '../lib/parley.ts';
import { now, rssBytes, type ServerProc, sleep, sseOpen, startStreamClient, waitIdle } from '../lib/procs.ts';
import { createDb, open, type SeededUser, seedGroup, seedUsers } from '../lib/seed.ts';
import { median } from '../lib/stats.ts';
import { Tally } from '../lib/tally.ts';
import { type BenchContext, fmt, type Row, type ScenarioResult } from '../lib/types.ts';

// Fresh groups that each gain one batch of streaming members: the add's latency is their median.
const FRESH_GROUPS = 3;
// The streams opened first, to warm the code before the idle baseline (as the streams scenario).
const WARM_STREAMS = 50;

/** POST …/participants as `owner`: its status, latency and send time. */
async function addMembers(
  server: ServerProc,
  conversationId: number,
  owner: SeededUser,
  users: SeededUser[],
) {
  const sentAt = now();
  const status = await postJson(`${server.url}/conversations/${conversationId}/participants`, owner.token, {
    userIds: users.map((u) => String(u.id)),
  });
  return { status, ms: now() - sentAt, sentAt };
}

/**
 * Waits until `count` streams had the group marked `seq` in a frame — its title, which a newcomer
 * first sees in its conversation.created — or `timeoutMs` passed; the last arrival, and how many
 * are missing.
 */
async function reached(tally: Tally, seq: number, count: number, timeoutMs: number) {
  const deadline = now() + timeoutMs;
  await tally.gather();
  while ((tally.arrivals.get(seq)?.length ?? 0) < count && now() < deadline) {
    await sleep(100);
    await tally.gather();
  }
  const times = tally.arrivals.get(seq) ?? [];
  return { lastAt: times.reduce((a, b) => Math.max(a, b), 0), missing: count - times.length };
}

async function runSide(
  server: ServerProc,
  owner: SeededUser,
  users: SeededUser[],
  groups: { whole: number; fresh: number[] },
  batch: number,
  timing: { timeoutMs: number; settleMs: number },
) {
  const { timeoutMs, settleMs } = timing;
  const client = await startStreamClient();
  try {
    const tally = new Tally(client);
    const openStreams = async (list: SeededUser[]) => {
      const opened = await client.request<{ ok: number; statuses: Record<string, number> }>(
        sseOpen(server, list, { count: 'event: presence.updated' }),
        'opened',
      );
      if (opened.ok !== list.length)
        throw new Error(`group-formation: opened ${JSON.stringify(opened.statuses)}`);
    };
    // Idle streams: RSS growth per stream, measured as the streams scenario measures it.
    const warm = Math.min(WARM_STREAMS, users.length);
    await openStreams(users.slice(0, warm));
    await waitIdle(server.pid, 10_000);
    await sleep(settleMs / 2);
    const before = rssBytes(server.pid);
    await openStreams(users.slice(warm));
    await waitIdle(server.pid, 60_000);
    await sleep(settleMs);
    const idle = rssBytes(server.pid);
    await tally.gather();
    const presenceOnOpen = tally.frames;
    // One group of everyone: the owner adds them a batch at a time, one request after another.
    const posts: Awaited<ReturnType<typeof addMembers>>[] = [];
    for (let i = 0; i < users.length; i += batch)
      posts.push(await addMembers(server, groups.whole, owner, users.slice(i, i + batch)));
    const whole = await reached(tally, 0, users.length, timeoutMs);
    await waitIdle(server.pid, timeoutMs);
    await sleep(settleMs);
    const formed = rssBytes(server.pid);
    await tally.gather();
    const presenceOnForming = tally.frames - presenceOnOpen;
    // Fresh groups, each gaining `batch` of the streaming users in one request.
    const fresh: { ms: number; reachedMs: number; status: number; missing: number }[] = [];
    for (const [g, id] of groups.fresh.entries()) {
      const post = await addMembers(server, id, owner, users.slice(g * batch, (g + 1) * batch));
      const r = await reached(tally, g + 1, batch, timeoutMs);
      fresh.push({ ms: post.ms, reachedMs: r.lastAt - post.sentAt, status: post.status, missing: r.missing });
      await waitIdle(server.pid, timeoutMs);
    }
    await tally.gather();
    const streams = users.length - warm;
    const statuses = [...posts, ...fresh].map((p) => p.status);
    return {
      idleKiBPerStream: (idle - before) / 1024 / streams,
      formedKiBPerStream: (formed - before) / 1024 / streams,
      rssMiB: { before: before / 2 ** 20, idle: idle / 2 ** 20, formed: formed / 2 ** 20 },
      formPosts: posts.map((p) => ({ ms: p.ms, status: p.status })),
      formMs: whole.lastAt - posts[0]!.sentAt,
      presenceOnOpen,
      presenceOnForming,
      addMs: median(fresh.map((f) => f.ms)),
      addReachedMs: median(fresh.map((f) => f.reachedMs)),
      fresh,
      failures:
        statuses.filter((s) => s !== 200).length +
        whole.missing +
        fresh.reduce((n, f) => n + f.missing, 0) +
        tally.dropped,
    };
  } finally {
    await client.close();
  }
}

/**
 * Presence on, as users run it. Every user holds an SSE stream; one group of all of them forms, a
 * batch of 1,000 (the most one request may add) at a time: server memory per stream after it,
 * against the same streams idle. Then fresh groups each gain 1,000 of the streaming users in one
 * request: its latency. The group's title marks it in the frames: a newcomer's first frame with it
 * is its conversation.created. vs node:http + better-sqlite3 writing the same rows and frames.
 */
export async function groupFormation(ctx: BenchContext): Promise<ScenarioResult> {
  const n = ctx.quick ? 60 : 5000;
  const batch = ctx.quick ? 20 : 1000;
  // The memory is read once the server has been idle and then settleMs more (toy sizes: no use).
  const timing = ctx.quick ? { timeoutMs: 20_000, settleMs: 0 } : { timeoutMs: 300_000, settleMs: 1000 };
  const db = await createDb('group-formation');
  const [owner, ...users] = await seedUsers(db, n + 1, 'former');
  const titled = (seq: number) => {
    const id = seedGroup(db, owner!.id, []);
    const sql = open(db.file);
    sql.prepare('UPDATE conversations SET title = ? WHERE id = ?').run(`bench-${seq}-group`, id);
    sql.close();
    return id;
  };
  const groups = {
    whole: titled(0),
    fresh: Array.from({ length: FRESH_GROUPS }, (_, g) => titled(g + 1)),
  };
  const floorEnv = { FLOOR_DB: join(db.dir, 'floor.db'), FLOOR_TOKENS: join(db.dir, 'floor-tokens.json') };
  copyFileSync(db.file, floorEnv.FLOOR_DB);
  writeFileSync(
    floorEnv.FLOOR_TOKENS,
    JSON.stringify(Object.fromEntries([owner!, ...users].map((u) => [u.token, u.id]))),
  );
  const out = await eachSide(
    {
      floor: () => startFloor('group-formation.ts', floorEnv),
      parley: () =>
        startParley(ctx, 'group-formation', db, { PRESENCE_ENABLED: 'true', MEMBER_ADDS_PER_WINDOW: '0' }),
    },
    async (side, server) => {
      const r = await runSide(server, owner!, users, groups, batch, timing);
      ctx.log(
        `group-formation ${side}: add ${fmt(batch)} ${r.addMs.toFixed(0)} ms (all reached ${r.addReachedMs.toFixed(0)} ms); ${fmt(n)} formed in ${r.formMs.toFixed(0)} ms, ${r.idleKiBPerStream.toFixed(1)} → ${r.formedKiBPerStream.toFixed(1)} KiB/stream; presence frames ${r.presenceOnOpen} + ${r.presenceOnForming}; failures ${r.failures}`,
      );
      return r;
    },
  );
  const p = out.parley;
  const f = out.floor;
  const add = `${fmt(batch)} members added to a fresh group, each streaming (median of ${FRESH_GROUPS})`;
  const whole = `${fmt(n)} streaming users, one group of all formed in ${n / batch} POSTs of ${fmt(batch)}`;
  const rows: Row[] = [
    {
      scenario: 'group-formation',
      size: add,
      metric: 'POST …/participants latency',
      unit: 'ms',
      parley: p.addMs,
      floor: f.addMs,
      goal: { kind: 'value-at-most', value: 1000 },
    },
    {
      scenario: 'group-formation',
      size: add,
      metric: 'POST → every newcomer has its conversation.created',
      unit: 'ms',
      parley: p.addReachedMs,
      floor: f.addReachedMs,
      goal: { kind: 'report' },
    },
    {
      scenario: 'group-formation',
      size: whole,
      metric: 'RSS per stream once formed (floor column: Parley, the same streams idle before)',
      unit: 'KiB',
      parley: p.formedKiBPerStream,
      floor: p.idleKiBPerStream,
      goal: { kind: 'at-most', ratio: 2 },
    },
    {
      scenario: 'group-formation',
      size: whole,
      metric: 'first POST → every member has its conversation.created',
      unit: 'ms',
      parley: p.formMs,
      floor: f.formMs,
      goal: { kind: 'report' },
    },
    {
      scenario: 'group-formation',
      size: whole,
      metric: 'presence.updated frames received (all clients), streams opening + group forming',
      unit: 'count',
      parley: p.presenceOnOpen + p.presenceOnForming,
      floor: f.presenceOnOpen + f.presenceOnForming,
      goal: { kind: 'report' },
    },
    {
      scenario: 'group-formation',
      size: whole,
      metric: 'failed POSTs + conversation.created missing + dropped streams',
      unit: 'count',
      parley: p.failures,
      floor: f.failures,
      goal: { kind: 'zero' },
    },
  ];
  return { rows, details: { users: n, batch, parley: p, floor: f } };
}
