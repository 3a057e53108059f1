import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import webpush from 'web-push';
import { eachSide, postMessage, startFloor, startParley } from '../lib/parley.ts';
import { LoadProc, now, runQueueWaitMs, type ServerProc, sleep } from '../lib/procs.ts';
import { createDb, open, type SeededUser, seedGroup, seedUsers } from '../lib/seed.ts';
import { ascending, percentile } from '../lib/stats.ts';
import { type BenchContext, fmt, type Row, type ScenarioResult } from '../lib/types.ts';
import { BenchPushReceiver } from '../load/push-receiver.ts';

// Another user's sends go on at this pace while the pushes go out, and the same sends idle before.
const SIDE_SEND_EVERY_MS = 20;
// A full run's rounds and idle sends: some 150 sends each way, so that each p99 is about the second
// largest of them, not the largest — with 50 idle sends and 3 rounds, one hiccup of the machine
// decided either side of the ratio.
const ROUNDS = 5;
const IDLE_SENDS = 150;

interface Measured {
  /** Per device and round: ms from the POST to its push arriving at the push service. */
  latencies: number[];
  /** Per round: ms until the last device's push arrived. */
  lastArrivals: number[];
  /** The group message's own POST, per round (ms). */
  groupSends: number[];
  /** Other sends while the pushes were going out, and the same sends with nothing to push (ms). */
  busySends: number[];
  idleSends: number[];
  /** The server's request thread, ready but waiting for a CPU: during the rounds, and during the idle sends. */
  busyWait: WaitTally;
  idleWait: WaitTally;
  missing: number;
  failedSends: number;
  receiver: ReturnType<BenchPushReceiver['check']>;
}

interface WaitTally {
  waitMs: number;
  wallMs: number;
}

/**
 * Starts a span of the server's request thread's run-queue wait (runQueueWaitMs); the function it
 * returns ends the span and adds it to a tally. Nothing is added where the kernel keeps no such
 * statistics.
 */
function waitSpan(pid: number): (into: WaitTally) => void {
  const waited = runQueueWaitMs(pid);
  const t0 = now();
  return (into) => {
    const waitedNow = runQueueWaitMs(pid);
    if (waited === null || waitedNow === null) return;
    into.waitMs += waitedNow - waited;
    into.wallMs += now() - t0;
  };
}

/** Milliseconds waited per second of the tally's spans; null without any. */
const waitPerSecond = (t: WaitTally) => (t.wallMs > 0 ? (t.waitMs / t.wallMs) * 1000 : null);

async function timedPost(url: string, conversationId: number, token: string, body: string) {
  const t0 = now();
  const status = await postMessage(url, conversationId, token, body);
  return { ms: now() - t0, status };
}

/**
 * The other user's sends run in a process of their own (bench/load/side-sender.ts), timed there:
 * this process is also the push service taking the 1,000 pushes, and its event loop's lag from
 * that is not Parley's latency.
 */
async function startSideSender(): Promise<LoadProc> {
  const out = new LoadProc('bench/load/side-sender.ts');
  await out.next('ready', 60_000);
  return out;
}

async function runSide(
  server: ServerProc,
  receiver: BenchPushReceiver,
  sender: SeededUser,
  groupId: number,
  sideId: number,
  rounds: number,
  idleSends: number,
): Promise<Measured> {
  const m: Measured = {
    latencies: [],
    lastArrivals: [],
    groupSends: [],
    busySends: [],
    idleSends: [],
    busyWait: { waitMs: 0, wallMs: 0 },
    idleWait: { waitMs: 0, wallMs: 0 },
    missing: 0,
    failedSends: 0,
    receiver: { repeats: 0, malformed: 0, undecryptable: 0, sample: null },
  };
  const sideSender = await startSideSender();
  try {
    const series = (label: string, count?: number) =>
      sideSender.send({
        op: 'sends',
        host: server.host,
        port: server.port,
        path: `/conversations/${sideId}/message`,
        token: sender.token,
        everyMs: SIDE_SEND_EVERY_MS,
        count,
        label,
      });
    const ended = async () => {
      const r = await sideSender.next<{ latencies: number[]; failed: number }>('sent', 120_000);
      m.failedSends += r.failed;
      return r.latencies;
    };
    series('warm-up', 5); // connection, JIT
    await ended();
    const idle = waitSpan(server.pid);
    series('idle', idleSends);
    m.idleSends.push(...(await ended()));
    idle(m.idleWait);
    await runRounds(server, receiver, sender, groupId, rounds, m, {
      start: (round) => series(`during ${round}`),
      stop: async () => {
        sideSender.send({ op: 'stop' });
        m.busySends.push(...(await ended()));
      },
    });
  } finally {
    await sideSender.close();
  }
  return m;
}

async function runRounds(
  server: ServerProc,
  receiver: BenchPushReceiver,
  sender: SeededUser,
  groupId: number,
  rounds: number,
  m: Measured,
  sides: { start: (round: number) => void; stop: () => Promise<void> },
): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    receiver.reset();
    await sleep(500); // the previous round's tail settles
    const busy = waitSpan(server.pid);
    const t0 = now();
    const group = timedPost(server.url, groupId, sender.token, `round ${round}: lunch at noon?`);
    sides.start(round);
    const arrivals = await receiver.allArrived(60_000);
    await sides.stop();
    busy(m.busyWait);
    const sent = await group;
    if (sent.status !== 201) m.failedSends++;
    m.groupSends.push(sent.ms);
    m.missing += receiver.subscribers.length - arrivals.size;
    const times = [...arrivals.values()].map((t) => t - t0);
    m.latencies.push(...times);
    m.lastArrivals.push(Math.max(...times));
    const checked = receiver.check();
    m.receiver = {
      repeats: m.receiver.repeats + checked.repeats,
      malformed: m.receiver.malformed + checked.malformed,
      undecryptable: m.receiver.undecryptable + checked.undecryptable,
      sample: checked.sample,
    };
  }
  // A push that arrives twice arrives after the last first one: give repeats a moment to show.
  await sleep(500);
  m.receiver.repeats += receiver.check().repeats;
  m.latencies = ascending(m.latencies);
}

/**
 * One message to a group of 1,000 members who are all offline, each with a Web Push subscription
 * on a local push service: time from the POST until each push arrives, and the latency of another
 * user's sends meanwhile; vs a floor that sends the same encrypted requests with `web-push` alone.
 */
export async function push(ctx: BenchContext): Promise<ScenarioResult> {
  const size = ctx.quick ? 50 : 1000;
  const rounds = ctx.quick ? 1 : ROUNDS;
  const idleSends = ctx.quick ? 50 : IDLE_SENDS;
  const receiver = await BenchPushReceiver.start(size);
  try {
    const vapid = webpush.generateVAPIDKeys();
    const db = await createDb('push');
    const [sender, other, ...members] = await seedUsers(db, size + 2, 'push');
    const groupId = seedGroup(
      db,
      sender!.id,
      members.map((u) => u.id),
    );
    // The side sends go to a conversation whose other member has no subscription: nothing to push.
    const sideId = seedGroup(db, sender!.id, [other!.id]);
    seedSubscriptions(db.file, members, receiver);
    const file = join(db.dir, 'subscriptions.json');
    writeFileSync(
      file,
      JSON.stringify(
        receiver.subscribers.map((s) => ({ endpoint: s.endpoint, keys: { p256dh: s.p256dh, auth: s.auth } })),
      ),
    );
    const keys = { VAPID_PUBLIC_KEY: vapid.publicKey, VAPID_PRIVATE_KEY: vapid.privateKey };
    const out = await eachSide(
      {
        floor: () =>
          startFloor('push.ts', {
            ...keys,
            PUSH_SUBSCRIPTIONS_FILE: file,
            PUSH_CONVERSATION_ID: String(groupId),
          }),
        parley: () => startParley(ctx, 'push', db, { ...keys, PUSH_ALLOW_PRIVATE_ENDPOINTS: 'true' }),
      },
      async (side, server) => {
        const m = await runSide(server, receiver, sender!, groupId, sideId, rounds, idleSends);
        ctx.log(
          `push ${size} ${side}: p50 ${percentile(m.latencies, 50).toFixed(0)} ms, p99 ${percentile(m.latencies, 99).toFixed(0)} ms, missing ${m.missing}`,
        );
        return m;
      },
    );
    const p = out.parley;
    const f = out.floor;
    const label = `${fmt(size)} offline devices, ${rounds} message${rounds > 1 ? 's' : ''}`;
    const median = (xs: number[]) => percentile(ascending(xs), 50);
    const rows: Row[] = [
      {
        scenario: 'push',
        size: label,
        metric: 'p50 send→push received',
        unit: 'ms',
        parley: percentile(p.latencies, 50),
        floor: percentile(f.latencies, 50),
        goal: { kind: 'at-most', ratio: 1.5 },
      },
      {
        scenario: 'push',
        size: label,
        metric: 'p99 send→push received',
        unit: 'ms',
        parley: percentile(p.latencies, 99),
        floor: percentile(f.latencies, 99),
        goal: { kind: 'at-most', ratio: 1.5 },
      },
      {
        scenario: 'push',
        size: label,
        metric: 'all received (median of rounds)',
        unit: 'ms',
        parley: median(p.lastArrivals),
        floor: median(f.lastArrivals),
        goal: { kind: 'report' },
      },
      {
        scenario: 'push',
        size: label,
        metric: 'pushes missing, repeated, malformed or undecryptable',
        unit: 'count',
        parley:
          p.missing + p.receiver.repeats + p.receiver.malformed + p.receiver.undecryptable + p.failedSends,
        floor:
          f.missing + f.receiver.repeats + f.receiver.malformed + f.receiver.undecryptable + f.failedSends,
        goal: { kind: 'zero' },
      },
      {
        scenario: 'push',
        size: `${label}; floor column: Parley's same sends with nothing to push`,
        metric: `p99 of another user's sends (every ${SIDE_SEND_EVERY_MS} ms) while pushing, vs idle`,
        unit: 'ms',
        parley: percentile(ascending(p.busySends), 99),
        floor: percentile(ascending(p.idleSends), 99),
        goal: { kind: 'at-most', ratio: 1.5 },
      },
      {
        scenario: 'push',
        size: label,
        metric: `p99 of another user's sends (every ${SIDE_SEND_EVERY_MS} ms) while pushing`,
        unit: 'ms',
        parley: percentile(ascending(p.busySends), 99),
        floor: percentile(ascending(f.busySends), 99),
        goal: { kind: 'report' },
      },
      ...waitRow(label, p),
      {
        scenario: 'push',
        size: label,
        metric: 'the group message’s own POST (median)',
        unit: 'ms',
        parley: median(p.groupSends),
        floor: median(f.groupSends),
        goal: { kind: 'report' },
      },
    ];
    const summary = (m: Measured) => ({
      p50: percentile(m.latencies, 50),
      p90: percentile(m.latencies, 90),
      p99: percentile(m.latencies, 99),
      lastArrivals: m.lastArrivals,
      groupSends: m.groupSends,
      busySends: {
        n: m.busySends.length,
        p50: median(m.busySends),
        p99: percentile(ascending(m.busySends), 99),
      },
      idleSends: {
        n: m.idleSends.length,
        p50: median(m.idleSends),
        p99: percentile(ascending(m.idleSends), 99),
      },
      runQueueWaitMsPerSecond: { pushing: waitPerSecond(m.busyWait), idle: waitPerSecond(m.idleWait) },
      missing: m.missing,
      failedSends: m.failedSends,
      receiver: m.receiver,
    });
    return { rows, details: { parley: summary(p), floor: summary(f) } };
  } finally {
    await receiver.close();
  }
}

/**
 * Why the sends while pushing are slower than idle ones on a small machine: how long the request
 * thread was ready to run but waiting for a CPU, per second, during the rounds against during the
 * idle sends. No row where the kernel keeps no scheduler statistics.
 */
function waitRow(label: string, m: Measured): Row[] {
  const busy = waitPerSecond(m.busyWait);
  const idle = waitPerSecond(m.idleWait);
  if (busy === null || idle === null) return [];
  return [
    {
      scenario: 'push',
      size: `${label}; floor column: the same thread during the idle sends`,
      metric: "the server's request thread: time ready to run but waiting for a CPU, while pushing vs idle",
      unit: 'ms per s',
      parley: busy,
      floor: idle,
      goal: { kind: 'report' },
    },
  ];
}

/** A device and a Web Push subscription on the receiver for each member, straight into the schema. */
function seedSubscriptions(file: string, members: SeededUser[], receiver: BenchPushReceiver): void {
  const db = open(file);
  const at = new Date().toISOString();
  const device = db.prepare('INSERT INTO devices (id, user_id, name, created_at) VALUES (?, ?, ?, ?)');
  const subscription = db.prepare(
    `INSERT INTO push_subscriptions (device_id, user_id, type, endpoint, p256dh, auth, created_at)
     VALUES (?, ?, 'webpush', ?, ?, ?, ?)`,
  );
  db.transaction(() => {
    members.forEach((member, i) => {
      const s = receiver.subscribers[i]!;
      device.run(`bench${i}`, member.id, 'bench', at);
      subscription.run(`bench${i}`, member.id, s.endpoint, s.p256dh, s.auth, at);
    });
  })();
  db.close();
}
