import type Koa from 'koa';
import type { Deps } from '../deps.ts';
import type { Session } from '../sessions.ts';
import { readFeed, startingPoint } from './feed.ts';
import type { Subscriber } from './hub.ts';
import { isAfter, ORIGIN, type Position } from './position.ts';
import type { WireEvent } from './wire.ts';

// Tells EventSource how long to wait before reconnecting after a drop.
const RETRY_MS = 2000;

/** Every open SSE response on this node, so one timer can send all heartbeats. */
const openStreams = new Set<SseStream>();

/**
 * One SSE response. It buffers live events while the backlog is replayed, then writes live —
 * dropping anything the replay already sent, so the seam has no gap and no duplicate.
 */
class SseStream implements Subscriber {
  readonly userId: number;
  readonly sessionId: string;
  private last: Position = ORIGIN;
  private pending: WireEvent[] | null = [];
  private ended = false;
  readonly done: Promise<void>;
  private finish!: () => void;

  constructor(
    private readonly res: import('node:http').ServerResponse,
    session: Session,
    private readonly maxBufferedBytes: number,
  ) {
    this.userId = session.userId;
    this.sessionId = session.id;
    this.done = new Promise((resolve) => {
      this.finish = resolve;
    });
    res.on('close', () => this.end());
    res.on('error', () => this.end());
  }

  /** Writes a frame unless the client has fallen too far behind, in which case it is cut off. */
  write(chunk: string): void {
    if (this.ended) return;
    this.res.write(chunk);
    // A client that stops reading lets the socket buffer grow; past the bound it is disconnected
    // and resumes from its last event id instead of growing this process's memory.
    if (this.res.writableLength > this.maxBufferedBytes) this.end();
  }

  send(event: WireEvent): void {
    if (event.position !== null) {
      if (!isAfter(event.position, this.last)) return;
      this.last = event.position;
    }
    this.write(event.frame);
  }

  deliver(event: WireEvent): void {
    if (this.pending) this.pending.push(event);
    else this.send(event);
  }

  /** Replay is over: flush what arrived meanwhile and write live from now on. */
  goLive(after: Position): void {
    if (isAfter(after, this.last)) this.last = after;
    const pending = this.pending ?? [];
    this.pending = null;
    for (const event of pending) this.send(event);
  }

  close(): void {
    this.end();
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    openStreams.delete(this);
    if (!this.res.destroyed) this.res.end();
    this.finish();
  }

  get isEnded(): boolean {
    return this.ended;
  }
}

/** Writes a comment to every open stream: keeps proxies and NATs from closing idle connections. */
export function startHeartbeats(intervalMs: number): () => void {
  const timer = setInterval(() => {
    for (const stream of openStreams) stream.write(':\n\n');
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Serves GET /events until the client leaves, the session is revoked or the server stops. */
export async function serveEventStream(
  deps: Deps,
  ctx: Koa.Context,
  session: Session,
  cursor: Position | undefined,
) {
  ctx.respond = false;
  const res = ctx.res;
  // Streams live as long as the client wants; Node's idle socket timeout must not cut them.
  ctx.req.socket.setTimeout(0);
  ctx.req.socket.setNoDelay(true);
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache',
    'X-Accel-Buffering': 'no',
    Connection: 'keep-alive',
    'X-Request-Id': ctx.response.get('X-Request-Id'),
  });
  const stream = new SseStream(res, session, deps.config.streamBufferBytes);
  openStreams.add(stream);
  stream.write(`retry: ${RETRY_MS}\n\n`);
  const unsubscribe = deps.hub.subscribe(stream);
  try {
    const { after, reset } = await startingPoint(deps.db, cursor);
    if (reset) stream.send(reset);
    let position = after;
    while (!stream.isEnded) {
      const batch = await readFeed(deps.db, session.userId, position, deps.config.pollBatchSize);
      for (const event of batch) stream.send(event);
      if (batch.length < deps.config.pollBatchSize) break;
      position = batch.at(-1)!.position!;
    }
    stream.goLive(after);
    // A comment marks "caught up and live", and makes curl and proxies show the stream at once.
    stream.write(': live\n\n');
    await stream.done;
  } catch (err) {
    ctx.state.log?.error({ err }, 'event stream failed');
    stream.close();
  } finally {
    unsubscribe();
  }
}
