import { connect, type Socket } from 'node:net';
import { now } from '../lib/clock.ts';
import { occurrences, postText, type Req, requestText, responses, type Target } from './wire.ts';

/**
 * An open-loop sender: POSTs marked messages (`bench-<seq>-…`) at a fixed rate over a few
 * keep-alive connections, whether or not earlier answers came back, so a slow server shows as
 * latency (measured from each message's scheduled time) instead of a slower sender. It can also
 * hold the sender's own SSE stream and count the frames of one type on it (receipts coming back).
 */
type Command =
  | ({
      op: 'rate';
      path: string;
      token: string;
      perSecond: number;
      count: number;
      first: number;
      connections: number;
    } & Target)
  | ({ op: 'watch'; request: Req; count: string } & Target)
  | { op: 'watched' }
  | { op: 'close' };

const send = (message: unknown) => process.send?.(message);
const sockets: Socket[] = [];

function rate(c: Extract<Command, { op: 'rate' }>) {
  const statuses: Record<string, number> = {};
  const free: Socket[] = [];
  const conns: Socket[] = [];
  const inFlight = new Set<Socket>();
  // Messages due so far, and how many of them were written: seqs first + written … first + due - 1 wait.
  let due = 0;
  let written = 0;
  let answered = 0;
  let t0 = 0;
  const bodyOf = (seq: number) => JSON.stringify({ body: `bench-${seq}-one-to-one hello there` });
  const dispatch = () => {
    while (written < due && free.length) {
      const socket = free.pop()!;
      inFlight.add(socket);
      socket.write(postText(c, { path: c.path, token: c.token }, bodyOf(c.first + written++)));
    }
  };
  const finish = () => {
    for (const s of conns) s.destroy();
    send({ type: 'rated', startedAt: t0, statuses });
  };
  const answer = (status: number) => {
    statuses[String(status)] = (statuses[String(status)] ?? 0) + 1;
    if (++answered === c.count) finish();
  };
  const tick = () => {
    due = Math.min(c.count, Math.floor(((now() - t0) * c.perSecond) / 1000) + 1);
    dispatch();
    if (due < c.count) setTimeout(tick, 1);
  };
  let connected = 0;
  for (let i = 0; i < c.connections; i++) {
    const socket = connect(c.port, c.host);
    socket.setNoDelay(true);
    conns.push(socket);
    socket.on('connect', () => {
      free.push(socket);
      if (++connected === c.connections) {
        t0 = now();
        tick();
      }
    });
    responses(socket, (res) => {
      inFlight.delete(socket);
      free.push(socket);
      answer(res.status);
      dispatch();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      // A request lost with its connection is answered as status 0.
      if (inFlight.delete(socket) && answered < c.count) answer(0);
      const k = free.indexOf(socket);
      if (k >= 0) free.splice(k, 1);
    });
  }
}

let watchedCount = 0;
function watch(c: Extract<Command, { op: 'watch' }>) {
  const socket = connect(c.port, c.host);
  sockets.push(socket);
  const scan = occurrences(c.count);
  socket.setEncoding('utf8');
  const live = occurrences(': live');
  let watching = false;
  socket.on('connect', () => socket.write(requestText(c, c.request, 'text/event-stream')));
  socket.on('data', (chunk: string) => {
    watchedCount += scan(chunk);
    if (!watching && live(chunk) > 0) {
      watching = true;
      send({ type: 'watching' });
    }
  });
  socket.on('error', () => {});
}

process.on('message', (c: Command) => {
  switch (c.op) {
    case 'rate':
      return rate(c);
    case 'watch':
      return watch(c);
    case 'watched':
      return send({ type: 'watched', count: watchedCount });
    case 'close':
      for (const s of sockets) s.destroy();
      process.disconnect?.();
      setTimeout(() => process.exit(0), 50).unref();
      return;
  }
});
send({ type: 'ready' });
