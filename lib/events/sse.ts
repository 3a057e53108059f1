import type { ServerResponse } from 'node:http';
import type Koa from 'koa';
import type { Deps } from '../deps.ts';
import { unauthenticated, unavailable } from '../errors.ts';
import type { Session } from '../sessions.ts';
import { readFeed, startingPoint } from './feed.ts';
import type { Subscriber } from './hub.ts';
import { isAfter, type Position } from './position.ts';
import type { WireEvent } from './wire.ts';

// Tells EventSource how long to wait before reconnecting after a drop: short enough to feel live,
// long enough that a restarting server is not hammered.
const RETRY_MS = 2000;

/**
 * One SSE response. It buffers live events while the backlog is replayed, then writes live —
 * dropping anything the replay already sent, so the seam has no gap and no duplicate.
 */
class SseStream implements Subscriber {
  readonly userId: number;
  readonly sessionId: string;
  private last: Position;
  private pending: WireEvent[] | null = [];
  private pendingBytes = 0;
  private ended = false;
  private readonly heartbeat: NodeJS.Timeout;
  readonly done: Promise<void>;
  private finish!: () => void;

  constructor(
    private readonly res: ServerResponse,
    session: Session,
    after: Position,
    private readonly limits: { maxBufferedBytes: number; heartbeatMs: number },
  ) {
    this.userId = session.userId;
    this.sessionId = session.id;
    this.last = after;
    this.done = new Promise((resolve) => {
      this.finish = resolve;
    });
    res.on('close', () => this.end('gone'));
    res.on('error', () => this.end('gone'));
    // A comment after each quiet interval keeps proxies and NATs from closing the idle connection,
    // and a write to a dead peer surfaces as an error that ends the stream.
    this.heartbeat = setInterval(() => this.write(':\n\n'), limits.heartbeatMs);
    this.heartbeat.unref();
  }

  /** Writes a frame unless the client has fallen too far behind, in which case it is cut off. */
  write(chunk: string): void {
    if (this.ended) return;
    this.res.write(chunk);
    this.heartbeat.refresh();
    // A client that stops reading lets the socket buffer grow; past the bound it is disconnected
    // and resumes from its last event id instead of growing this process's memory.
    if (this.res.writableLength > this.limits.maxBufferedBytes) this.end('too-slow');
  }

  /** Told of every event handed to the socket (delivered receipts). */
  onSent: ((event: WireEvent) => void) | undefined;

  send(event: WireEvent): void {
    if (event.position !== null) {
      if (!isAfter(event.position, this.last)) return;
      this.last = event.position;
    }
    this.write(event.frame);
    if (!this.ended) this.onSent?.(event);
  }

  deliver(event: WireEvent): void {
    if (!this.pending) {
      this.send(event);
      return;
    }
    this.pending.push(event);
    // Live events wait here while the replay runs; a client that stopped reading stalls the replay,
    // so what waits counts against the same bound as what the socket holds.
    this.pendingBytes += event.frame.length;
    if (this.pendingBytes + this.res.writableLength > this.limits.maxBufferedBytes) this.end('too-slow');
  }

  /** Replay is over: flush what arrived meanwhile, at the client's pace, then write live from now on. */
  async goLive(): Promise<void> {
    const pending = this.pending ?? [];
    for (let i = 0; i < pending.length && !this.ended; i++) {
      await this.caughtUp();
      this.pendingBytes -= pending[i]!.frame.length;
      this.send(pending[i]!);
    }
    // Checked and switched with no await in between: nothing delivered meanwhile is left behind.
    this.pending = null;
  }

  close(): void {
    this.end('closed');
  }

  /**
   * A stream closed by the server (revoked session, shutdown) ends cleanly after what was written;
   * a slow client is cut at once, dropping its queued bytes.
   */
  private end(why: 'gone' | 'closed' | 'too-slow'): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.heartbeat);
    if (why === 'too-slow') this.res.destroy();
    else if (!this.res.destroyed) this.res.end();
    this.finish();
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /**
   * Resolves once the socket has taken what was written (or the stream ended). The replay
   * waits on it, so a long backlog goes out at the client's pace instead of piling up past the
   * bound that marks a client as too slow.
   */
  async caughtUp(): Promise<void> {
    if (this.ended || !this.res.writableNeedDrain) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }
}

/** Serves GET /events until the client leaves, the session is revoked or the server stops. */
export async function serveEventStream(
  deps: Deps,
  ctx: Koa.Context,
  session: Session,
  cursor: Position | undefined,
): Promise<void> {
  // Subscribe first and fix "now" before the client sees a byte: whatever commits once it has
  // the `retry:` line is after the starting point, so it is replayed or delivered live.
  let stream: SseStream | null = null;
  let closedBefore: 'revoked' | 'shutdown' | null = null;
  const early: WireEvent[] = [];
  const unsubscribe = deps.hub.subscribe({
    userId: session.userId,
    sessionId: session.id,
    deliver: (event) => (stream ? stream.deliver(event) : early.push(event)),
    close: (reason) => {
      if (stream) stream.close();
      else closedBefore = reason;
    },
  });
  try {
    const { after, reset } = await startingPoint(deps.db, cursor);
    if (closedBefore === 'revoked') throw unauthenticated('The session was revoked. Log in again.');
    if (closedBefore === 'shutdown') throw unavailable('The server is restarting; reconnect shortly.');
    if (ctx.req.destroyed) return;
    ctx.respond = false;
    // Streams live as long as the client wants; Node's idle socket timeout must not cut them.
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    ctx.res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      'X-Accel-Buffering': 'no',
      Connection: 'keep-alive',
    });
    const live = new SseStream(ctx.res, session, after, {
      maxBufferedBytes: deps.config.streamBufferBytes,
      heartbeatMs: deps.config.heartbeatMs,
    });
    live.onSent = (event) => deps.deliveries.written(session.userId, event);
    stream = live;
    for (const event of early) live.deliver(event);
    live.write(`retry: ${RETRY_MS}\n\n`);
    // The reset carries the new starting point as its id: a client that reconnects from it goes on from there.
    if (reset) live.write(reset.frame);
    await replay(deps, live, session.userId, after);
    await live.goLive();
    // A comment marks "caught up and live", and makes curl and proxies show the stream at once.
    live.write(': live\n\n');
    await live.done;
  } catch (err) {
    if (!stream) throw err;
    ctx.state.log?.error({ err }, 'event stream failed');
    stream.close();
  } finally {
    unsubscribe();
  }
}

/** Sends the log from `after` up to what is committed now, in batches. */
async function replay(deps: Deps, stream: SseStream, userId: number, after: Position): Promise<void> {
  let position = after;
  while (!stream.isEnded) {
    const batch = await readFeed(deps.db, userId, position, deps.config.pollBatchSize);
    for (const event of batch) {
      await stream.caughtUp();
      stream.send(event);
    }
    if (batch.length < deps.config.pollBatchSize) return;
    position = batch.at(-1)!.position!;
  }
}
