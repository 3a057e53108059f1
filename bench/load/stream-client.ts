import { connect, type Socket } from 'node:net';
import { now, sleep } from '../lib/procs.ts';
import { occurrences, type Req, requestText, responses, type Target } from './wire.ts';

/**
 * The SSE and long-poll load client: one process holding thousands of connections over raw
 * node:net (no per-connection parser objects), driven by the orchestrator over IPC. Times come
 * from ../lib/clock.ts, so they compare with the orchestrator's send times.
 */

type Command =
  | ({
      op: 'sse-open';
      requests: Req[];
      ready: string;
      concurrency: number;
      /** Spread the openings evenly over this long instead of opening as fast as possible. */
      spreadMs?: number;
      /** Count the frames containing this text on every stream (e.g. `event: presence.updated`). */
      count?: string;
    } & Target)
  | { op: 'collect' }
  | ({ op: 'poll-loop'; token: string; timeout: number } & Target)
  /** Many poll loops, at most `concurrency` connecting at once; answers `polling` once all poll. */
  | ({ op: 'poll-loops'; tokens: string[]; timeout: number; concurrency: number } & Target)
  | ({
      op: 'poll-open';
      requests: Req[];
      repollPath: string;
      repollTimeout: number;
      concurrency: number;
    } & Target)
  | { op: 'poll-collect'; waitMs: number }
  | ({ op: 'drain-sse'; request: Req; ready: string } & Target)
  | ({ op: 'drain-poll'; pathOf: string; token?: string; cursor: string } & Target)
  | { op: 'close' };

const send = (message: unknown) => process.send?.(message);

// ---- SSE: open many streams, then record when each marked message arrives on each stream --------
const MARK = /bench-(\d+)-/g;
const sockets: Socket[] = [];
let arrivals = new Map<number, number[]>();
let dropped = 0;
/** Frames counted (see `count`), and when the first and the last of them arrived. */
let counted = { n: 0, firstAt: 0, lastAt: 0 };

/** Records the arrival of every marked message in `text` not `seen` on this connection before. */
function record(text: string, seen: Set<number>, at: number): void {
  MARK.lastIndex = 0;
  for (let m = MARK.exec(text); m; m = MARK.exec(text)) {
    const seq = Number(m[1]);
    if (seen.has(seq)) continue;
    seen.add(seq);
    const list = arrivals.get(seq);
    if (list) list.push(at);
    else arrivals.set(seq, [at]);
  }
}

function openStream(t: Target, r: Req, ready: string, count?: string): Promise<number | null> {
  return new Promise((resolve) => {
    const socket = connect(t.port, t.host);
    socket.setNoDelay(true);
    let live = false;
    let head = '';
    let tail = '';
    // Concurrent sends may commit in another order than sent, so remember each seq, not the last.
    const seen = new Set<number>();
    const scan = count ? occurrences(count) : null;
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(requestText(t, r, 'text/event-stream')));
    socket.on('data', (chunk: string) => {
      const at = now();
      if (!live) {
        head += chunk;
        if (!head.includes(ready)) {
          if (/^HTTP\/1\.1 [^2]/.test(head) && head.includes('\r\n\r\n')) {
            socket.destroy();
            resolve(Number(head.slice(9, 12)));
          }
          return;
        }
        live = true;
        sockets.push(socket);
        resolve(200);
        chunk = head;
        head = '';
      }
      const text = tail + chunk;
      record(text, seen, at);
      tail = text.slice(-40);
      const n = scan ? scan(chunk) : 0;
      if (n > 0) {
        counted.n += n;
        counted.firstAt ||= at;
        counted.lastAt = at;
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      if (live) dropped++;
      else resolve(null);
    });
  });
}

async function sseOpen(c: Extract<Command, { op: 'sse-open' }>) {
  const statuses: Record<string, number> = {};
  let next = 0;
  const t0 = now();
  const worker = async () => {
    while (next < c.requests.length) {
      const i = next++;
      const r = c.requests[i]!;
      if (c.spreadMs) {
        const wait = t0 + (i * c.spreadMs) / c.requests.length - now();
        if (wait > 0) await sleep(wait);
      }
      const status = await openStream(c, r, c.ready, c.count);
      statuses[String(status)] = (statuses[String(status)] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(c.concurrency, c.requests.length) }, worker));
  send({ type: 'opened', ok: statuses['200'] ?? 0, statuses, startedAt: t0, endedAt: now() });
}

// ---- A long-poll loop: one client polling again as soon as each answer arrives ------------------
/** Resolves once the loop got its first answer (or failed to start). */
function pollLoop(c: Omit<Extract<Command, { op: 'poll-loop' }>, 'op'>): Promise<void> {
  let begun!: () => void;
  const begins = new Promise<void>((r) => {
    begun = r;
  });
  const socket = connect(c.port, c.host);
  socket.setNoDelay(true);
  sockets.push(socket);
  const seen = new Set<number>();
  const ask = (cursor: string | null, timeout: number) =>
    socket.write(
      requestText(
        c,
        { path: `/events/poll?${cursor ? `cursor=${cursor}&` : ''}timeout=${timeout}`, token: c.token },
        'application/json',
      ),
    );
  socket.on('connect', () => ask(null, 0));
  responses(socket, (res) => {
    if (res.status !== 200) {
      socket.destroy();
      return;
    }
    const { cursor } = JSON.parse(res.body) as { cursor: string };
    record(res.body, seen, res.at);
    begun();
    ask(cursor, c.timeout);
  });
  socket.on('error', () => {});
  // A loop that ends, or never started (refused, or an answer other than 200), counts as dropped.
  socket.on('close', () => {
    dropped++;
    begun();
  });
  return begins;
}

async function pollLoops(c: Extract<Command, { op: 'poll-loops' }>) {
  let next = 0;
  const worker = async () => {
    while (next < c.tokens.length) await pollLoop({ ...c, token: c.tokens[next++]! });
  };
  await Promise.all(Array.from({ length: Math.min(c.concurrency, c.tokens.length) }, worker));
  send({ type: 'polling' });
}

// ---- Long-poll: park many polls, time their wake, then re-poll once and count failures ----------
let pollState: {
  first: { at: number; status: number; events: number }[];
  repoll: { at: number; status: number }[];
  errors: number;
  otherWakes: number;
  expected: number;
  done: () => void;
  finished: Promise<void>;
} | null = null;

async function pollOpen(c: Extract<Command, { op: 'poll-open' }>) {
  let done!: () => void;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const state = {
    first: [],
    repoll: [],
    errors: 0,
    otherWakes: 0,
    expected: c.requests.length,
    done,
    finished,
  } as NonNullable<typeof pollState>;
  pollState = state;
  const settle = () => {
    if (state.repoll.length + state.errors >= state.expected) state.done();
  };
  const openPoll = (r: Req) =>
    new Promise<void>((connected) => {
      const socket = connect(c.port, c.host);
      sockets.push(socket);
      let stage = 0;
      socket.on('connect', () => {
        socket.write(requestText(c, r, 'application/json'));
        connected();
      });
      responses(socket, (res) => {
        if (stage === 0) {
          let events = 0;
          let cursor = '';
          try {
            const parsed = JSON.parse(res.body) as { events: unknown[]; cursor: string };
            events = parsed.events.length;
            cursor = parsed.cursor;
          } catch {}
          if (res.status === 200 && !res.body.includes('bench-')) {
            // Woken by something else (an event not sent by the bench, or the timeout): wait on.
            state.otherWakes++;
            socket.write(
              requestText(
                c,
                { ...r, path: r.path.replace(/cursor=[^&]*/, `cursor=${cursor}`) },
                'application/json',
              ),
            );
            return;
          }
          stage = 1;
          state.first.push({ at: res.at, status: res.status, events });
          socket.write(
            requestText(
              c,
              {
                path: `${c.repollPath}?cursor=${cursor}&timeout=${c.repollTimeout}`,
                ...(r.token ? { token: r.token } : {}),
              },
              'application/json',
            ),
          );
        } else if (stage === 1) {
          stage = 2;
          state.repoll.push({ at: res.at, status: res.status });
          settle();
        }
      });
      socket.on('error', () => {});
      socket.on('close', () => {
        if (stage < 2) {
          stage = 2;
          state.errors++;
          connected();
          settle();
        }
      });
    });
  // A bounded number of connects in flight keeps within the server's listen backlog (511), so no
  // SYN is dropped and retried seconds later.
  let next = 0;
  const worker = async () => {
    while (next < c.requests.length) await openPoll(c.requests[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(c.concurrency, c.requests.length) }, worker));
  send({ type: 'sent' });
}

// ---- Catch-up: one client draining a backlog -------------------------------------------------------
function drainSse(c: Extract<Command, { op: 'drain-sse' }>) {
  const socket = connect(c.port, c.host);
  socket.setEncoding('utf8');
  let text = '';
  let start = 0;
  socket.on('connect', () => {
    start = now();
    socket.write(requestText(c, c.request, 'text/event-stream'));
  });
  socket.on('data', (chunk: string) => {
    text += chunk;
    if (text.includes(c.ready)) {
      const ms = now() - start;
      socket.destroy();
      send({ type: 'drained', ms, events: text.match(/(^|\n)id: /g)?.length ?? 0 });
    }
  });
  socket.on('error', (err) => send({ type: 'drained', ms: -1, events: 0, error: String(err) }));
}

async function drainPoll(c: Extract<Command, { op: 'drain-poll' }>) {
  const socket = connect(c.port, c.host);
  let cursor = c.cursor;
  let events = 0;
  let start = 0;
  const ask = () =>
    socket.write(
      requestText(
        c,
        { path: `${c.pathOf}?cursor=${cursor}&timeout=0`, ...(c.token ? { token: c.token } : {}) },
        'application/json',
      ),
    );
  socket.on('connect', () => {
    start = now();
    ask();
  });
  responses(socket, (res) => {
    const parsed = JSON.parse(res.body) as { events: unknown[]; cursor: string };
    if (res.status !== 200 || parsed.events.length === 0) {
      socket.destroy();
      send({ type: 'drained', ms: now() - start, events, status: res.status });
      return;
    }
    events += parsed.events.length;
    cursor = parsed.cursor;
    ask();
  });
  socket.on('error', (err) => send({ type: 'drained', ms: -1, events, error: String(err) }));
}

process.on('message', async (c: Command) => {
  switch (c.op) {
    case 'sse-open':
      return sseOpen(c);
    case 'collect': {
      send({ type: 'arrivals', arrivals: [...arrivals.entries()], dropped, counted });
      arrivals = new Map();
      counted = { n: 0, firstAt: 0, lastAt: 0 };
      return;
    }
    case 'poll-loop':
      return pollLoop(c).then(() => send({ type: 'polling' }));
    case 'poll-loops':
      return pollLoops(c);
    case 'poll-open':
      return pollOpen(c);
    case 'poll-collect': {
      const state = pollState;
      if (state) await Promise.race([state.finished, new Promise((r) => setTimeout(r, c.waitMs))]);
      send({
        type: 'polls',
        first: state?.first ?? [],
        repoll: state?.repoll ?? [],
        errors: state?.errors ?? 0,
      });
      return;
    }
    case 'drain-sse':
      return drainSse(c);
    case 'drain-poll':
      return drainPoll(c);
    case 'close': {
      for (const s of sockets) s.destroy();
      process.disconnect?.();
      setTimeout(() => process.exit(0), 50).unref();
      return;
    }
  }
});
send({ type: 'ready' });
