import { connect, type Socket } from 'node:net';
import { now } from '../lib/clock.ts';
import { postText, type Response, responses, type Target } from './wire.ts';

/**
 * The push scenario's "another user's sends", in a process of their own so that their timing is
 * Parley's latency and not the bench process's (which is also the push service receiving the
 * 1,000 pushes, and whose event loop that keeps busy). One keep-alive connection; a POST, its
 * answer, `everyMs` of pause, the next — as the bench process did before with `fetch`. Each send
 * is timed from its write to its whole answer, on this process's clock.
 *
 * Commands: `sends` starts a series (`count` sends, or until `stop`), answered with `sent`
 * {latencies, failed} when it ends; `close`.
 */
type Command =
  | ({ op: 'sends'; path: string; token: string; everyMs: number; count?: number; label: string } & Target)
  | { op: 'stop' }
  | { op: 'close' };

const send = (message: unknown) => process.send?.(message);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let socket: Socket | null = null;
let answered: ((r: Response | null) => void) | null = null;
let stopping = false;

/** The open connection to `t`, or a new one (the first, or after the server closed the last). */
async function connection(t: Target): Promise<Socket> {
  if (socket && !socket.destroyed) return socket;
  const s = connect(t.port, t.host);
  s.setNoDelay(true);
  responses(s, (r) => answered?.(r));
  s.on('error', () => {});
  s.on('close', () => {
    if (socket === s) socket = null;
    answered?.(null); // a request lost with its connection
  });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  socket = s;
  return s;
}

/** One POST: its status (0 when the connection was lost) and ms from the write to the answer. */
async function post(c: Extract<Command, { op: 'sends' }>, seq: number) {
  const s = await connection(c);
  const body = JSON.stringify({ body: `${c.label} ${seq}` });
  const answer = new Promise<Response | null>((resolve) => {
    answered = resolve;
  });
  const t0 = now();
  s.write(postText(c, { path: c.path, token: c.token }, body));
  const r = await answer;
  answered = null;
  return { ms: now() - t0, status: r?.status ?? 0 };
}

async function sends(c: Extract<Command, { op: 'sends' }>): Promise<void> {
  stopping = false;
  const latencies: number[] = [];
  let failed = 0;
  for (let i = 0; !stopping && (c.count === undefined || i < c.count); i++) {
    let r = await post(c, i);
    // A keep-alive connection the server closed just as it was written to: once more, as fetch does.
    if (r.status === 0) r = await post(c, i);
    latencies.push(r.ms);
    if (r.status !== 201) failed++;
    await sleep(c.everyMs);
  }
  send({ type: 'sent', latencies, failed });
}

process.on('message', (c: Command) => {
  switch (c.op) {
    case 'sends':
      void sends(c).catch((err) => send({ type: 'sent', latencies: [], failed: 1, error: String(err) }));
      return;
    case 'stop':
      stopping = true;
      return;
    case 'close':
      socket?.destroy();
      process.disconnect?.();
      setTimeout(() => process.exit(0), 50).unref();
      return;
  }
});
send({ type: 'ready' });
