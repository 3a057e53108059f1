import {
  createApi,
  E2eeDevice,
  memoryCursorStore,
  type ParleyApi,
  type Subscription,
  subscribe,
} from '../../client/src/index.ts';
import { startParley } from '../lib/parley.ts';
import { cpuMs, now, type ServerProc } from '../lib/procs.ts';
import { createDb, PASSWORD } from '../lib/seed.ts';
import { ascending, percentile } from '../lib/stats.ts';
import { type BenchContext, fmt, type Row, type ScenarioResult } from '../lib/types.ts';

/** One member's device: the SDK's MLS client on its own SSE subscription, in this process. */
interface Member {
  userId: string;
  api: ParleyApi;
  device: E2eeDevice;
  subscription: Subscription;
  /** When each marked text reached this member: decrypted (encrypted group) or received (plain). */
  readAt: Map<string, number>;
}

async function join(url: string, name: string): Promise<Member> {
  const anonymous = createApi({ baseUrl: url });
  await anonymous.POST('/register', { body: { username: name, password: PASSWORD } });
  const { data: session } = await anonymous.POST('/login', {
    body: { username: name, password: PASSWORD, device: { name: 'bench' } },
  });
  if (!session) throw new Error(`e2ee bench: ${name} could not log in`);
  const api = createApi({ baseUrl: url, token: session.token });
  const readAt = new Map<string, number>();
  const device = await E2eeDevice.register({
    api,
    userId: session.user.id,
    deviceId: session.deviceId,
    // Few key packages: each member is claimed once, by the group's creator.
    keyPackages: 2,
    onMessage: (m) => {
      if (m.text !== undefined) readAt.set(m.text, now());
    },
  });
  const { data } = await api.GET('/conversations', {});
  const subscription = subscribe({
    api,
    transport: 'sse',
    cursorStore: memoryCursorStore((data as { eventCursor: string }).eventCursor),
    onEvent: async (event) => {
      if (event.type === 'message.created') {
        const body = (event.data as { body?: string | null }).body;
        if (typeof body === 'string') readAt.set(body, now());
      }
      await device.handle(event);
    },
  });
  return { userId: session.user.id, api, device, subscription, readAt };
}

/** Sends `count` texts one at a time, each once every other member has read the one before. */
async function measure(
  server: ServerProc,
  members: Member[],
  count: number,
  label: string,
  send: (text: string) => Promise<void>,
): Promise<{ latencies: number[]; cpuPerMessageMs: number }> {
  const readers = members.slice(1);
  const latencies: number[] = [];
  const cpuBefore = cpuMs(server.pid);
  for (let i = 0; i < count; i++) {
    const text = `${label} ${i} ${Math.random().toString(36).slice(2)}`;
    const sentAt = now();
    await send(text);
    const deadline = Date.now() + 60_000;
    while (!readers.every((m) => m.readAt.has(text))) {
      if (Date.now() > deadline)
        throw new Error(
          `e2ee bench: "${text}" not read by every member in 60 s: ${readers.filter((m) => !m.readAt.has(text)).length} missing`,
        );
      await new Promise((r) => setTimeout(r, 2));
    }
    for (const m of readers) latencies.push(m.readAt.get(text)! - sentAt);
  }
  return { latencies: ascending(latencies), cpuPerMessageMs: (cpuMs(server.pid) - cpuBefore) / count };
}

/**
 * e2ee: send → read in an encrypted group, beside the same members' plain group on the same
 * server. Every member is an SDK device (ts-mls) with its own SSE subscription, all in this bench
 * process, so "read" for the encrypted group includes the wait for this process to decrypt the
 * message for every member before it: the server's own cost is the CPU row.
 */
export async function e2ee(ctx: BenchContext): Promise<ScenarioResult> {
  const size = ctx.quick ? 10 : 100;
  const count = ctx.quick ? 3 : 20;
  const db = await createDb('e2ee');
  const server = await startParley(ctx, 'e2ee', db, {
    REGISTRATIONS_PER_WINDOW: '0',
    GROUPS_PER_WINDOW: '0',
    MEMBER_ADDS_PER_WINDOW: '0',
    KEY_PACKAGE_CLAIMS_PER_WINDOW: '0',
  });
  const members: Member[] = [];
  try {
    const run = Date.now().toString(36);
    for (let i = 0; i < size; i++) members.push(await join(server.url, `e2ee${run}${i}`));
    const [owner] = members as [Member];
    const others = members.slice(1).map((m) => m.userId);
    const encryptedId = await owner.device.createConversation(others, 'bench e2ee');
    await Promise.all(members.map((m) => m.device.untilEpoch(encryptedId, 1)));
    const { data: plain } = await owner.api.POST('/conversations', {
      body: { participantIds: others, title: 'bench plain' },
    });
    if (!plain) throw new Error('e2ee bench: could not create the plain group');
    ctx.log(`e2ee: ${size} members in both groups`);
    const encrypted = await measure(server, members, count, 'encrypted', async (text) => {
      await owner.device.send(encryptedId, text);
    });
    const plainRun = await measure(server, members, count, 'plain', async (text) => {
      const { error } = await owner.api.POST('/conversations/{conversationId}/message', {
        params: { path: { conversationId: plain.id } },
        body: { body: text },
      });
      if (error) throw new Error(`e2ee bench: plain send failed: ${JSON.stringify(error)}`);
    });
    const sizeLabel = `${fmt(size)} members, ${count} messages`;
    const row = (metric: string, unit: string, parley: number, floor: number): Row => ({
      scenario: 'e2ee',
      size: sizeLabel,
      metric,
      unit,
      parley,
      floor,
      goal: { kind: 'report' },
    });
    return {
      rows: [
        row(
          'send→read p50 (encrypted, vs plain)',
          'ms',
          percentile(encrypted.latencies, 50),
          percentile(plainRun.latencies, 50),
        ),
        row(
          'send→read p99 (encrypted, vs plain)',
          'ms',
          percentile(encrypted.latencies, 99),
          percentile(plainRun.latencies, 99),
        ),
        row(
          'server CPU per message (encrypted, vs plain)',
          'ms',
          encrypted.cpuPerMessageMs,
          plainRun.cpuPerMessageMs,
        ),
      ],
      distributions: { 'e2ee send→read': { parley: encrypted.latencies, floor: plainRun.latencies } },
      details: {
        members: size,
        messages: count,
        floorIs: 'the same members in a plain group on the same server',
      },
    };
  } finally {
    await Promise.all(members.map((m) => m.subscription.close()));
    await server.stop();
  }
}
