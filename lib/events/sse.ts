import type { ServerResponse } from 'node:http';
import type Koa from 'koa';
import type { Deliveries } from '../chat/delivered-marks.ts';
import type { Config } from '../config.ts';
import { sessionRevoked, unavailable } from '../http/problems.ts';
import { takeOverResponse } from '../http/route.ts';
import type { Session } from '../security/sessions.ts';
import type { Db } from '../store/db.ts';
import { isAfter, ORIGIN, type Position } from '../store/position.ts';
import { readFeed, startingPoint } from './feed.ts';
import type { EventHub, Subscriber } from './hub.ts';
import type { WireEvent } from './wire.ts';

// Tells EventSource how long to wait before reconnecting after a drop: short enough to feel live,
// long enough that a restarting server is not hammered.
const RETRY_MS = 2000;

// A comment after a quiet spell keeps proxies and NATs from closing the idle connection, and a write
// to a dead peer surfaces as an error that ends the stream. One interval per heartbeat period sweeps
// every stream (a timer per stream costs memory for each of thousands of idle streams); sweeping four
// times per period keeps a stream's silence between 3/4 of the period and the period.
const SWEEPS_PER_HEARTBEAT = 4;

/** The streams that share one heartbeat period, and the one interval that beats them all. */
class HeartbeatSweep {
  private readonly streams = new Set<SseStream>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly periodMs: number) {}

  add(stream: SseStream): void {
    this.streams.add(stream);
    if (this.timer) return;
    this.timer = setInterval(() => {
      for (const s of this.streams) s.sweep();
    }, this.periodMs / SWEEPS_PER_HEARTBEAT);
    this.timer.unref();
  }

  /** The interval runs only while some stream needs it, so a stopped server leaves no timer behind. */
  delete(stream: SseStream): void {
    this.streams.delete(stream);
    if (this.streams.size > 0) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** One sweep per period in use (specs run servers with different periods in one process). */
const sweeps = new Map<number, HeartbeatSweep>();

function heartbeatSweep(periodMs: number): HeartbeatSweep {
  let sweep = sweeps.get(periodMs);
  if (!sweep) {
    sweep = new HeartbeatSweep(periodMs);
    sweeps.set(periodMs, sweep);
  }
  return sweep;
}

/**
 * One SSE response and its subscription to the hub. It subscribes before the response opens and
 * buffers live events while the backlog is replayed, then writes live — dropping anything the
 * replay already sent, so the seam has no gap and no duplicate.
 *
 * It holds only what a live stream needs (the response, the user, its limits), never the request's
 * context: thousands of idle streams each pay for every field kept here.
 */
class SseStream implements Subscriber {
  readonly userId: number;
  readonly sessionId: string;
  private last: Position = ORIGIN;
  private pending: WireEvent[] | null = [];
  private pendingBytes = 0;
  private opened = false;
  private ended = false;
  private quietSweeps = 0;
  /** Why the hub closed this stream before its response opened, if it did. */
  closedBefore: 'revoked' | 'shutdown' | null = null;
  private readonly unsubscribe: () => void;
  private readonly heartbeat: HeartbeatSweep;
  private readonly maxBufferedBytes: number;
  private readonly heartbeatMs: number;
  private readonly deliveries: Deliveries;

  constructor(
    deps: StreamDeps,
    session: Session,
    private readonly res: ServerResponse,
    /** Called once when the stream ends, however it ends — also when it never opened. */
    private readonly onEnd: () => void,
  ) {
    this.userId = session.userId;
    this.sessionId = session.id;
    this.heartbeat = heartbeatSweep(deps.config.heartbeatMs);
    this.maxBufferedBytes = deps.config.streamBufferBytes;
    this.heartbeatMs = deps.config.heartbeatMs;
    this.deliveries = deps.deliveries;
    this.unsubscribe = deps.hub.subscribe(this);
  }

  /** Sends the response head; replay and live events follow from `after`. */
  open(after: Position): void {
    this.last = after;
    this.opened = true;
    // Streams live as long as the client wants; Node's idle socket timeout must not cut them.
    this.res.socket?.setTimeout(0);
    this.res.socket?.setNoDelay(true);
    this.res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      'X-Accel-Buffering': 'no',
      Connection: 'keep-alive',
    });
    // The head goes out on its own, now. Node keeps its text for the response's lifetime, built
    // header by header as a chain of string pieces; writing it alone to the socket makes V8
    // flatten it into one string, which an idle stream holds for hours.
    this.res.flushHeaders();
    this.res.on('close', this.gone);
    this.res.on('error', this.gone);
    this.heartbeat.add(this);
    // Events that arrived while the starting point was read count against the bound from now on.
    if (this.overBound()) this.end('too-slow');
  }

  /** One closure serves both 'close' and 'error': the peer is gone either way. */
  private readonly gone = (): void => this.end('gone');

  /** Writes a frame unless the client has fallen too far behind, in which case it is cut off. */
  write(chunk: string): void {
    if (this.ended) return;
    this.res.write(chunk);
    this.quietSweeps = 0;
    // A client that stops reading lets the socket buffer grow; past the bound it is disconnected
    // and resumes from its last event id instead of growing this process's memory.
    if (this.res.writableLength > this.maxBufferedBytes) this.end('too-slow');
  }

  /** Called by the heartbeat sweep: a stream quiet for a whole period gets a comment. */
  sweep(): void {
    if (++this.quietSweeps >= SWEEPS_PER_HEARTBEAT) this.write(':\n\n');
  }

  send(event: WireEvent): void {
    if (event.position !== null) {
      if (!isAfter(event.position, this.last)) return;
      this.last = event.position;
    }
    this.write(event.frame);
    // Handed to the socket without being cut for slowness: delivered.
    if (!this.ended) this.deliveries.written(this.userId, event);
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
    if (this.opened && this.overBound()) this.end('too-slow');
  }

  private overBound(): boolean {
    return this.pendingBytes + this.res.writableLength > this.maxBufferedBytes;
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

  /** The session was revoked or the server is stopping. Before the response opens, the opener answers. */
  close(reason: 'revoked' | 'shutdown'): void {
    if (this.opened) this.end('closed');
    else this.closedBefore = reason;
  }

  /**
   * A stream closed by the server (revoked session, shutdown) ends cleanly after what was written;
   * a slow client is cut at once, dropping its queued bytes. A stream that never opened leaves the
   * response to the request's error handling.
   */
  end(why: 'gone' | 'closed' | 'too-slow' | 'unopened'): void {
    if (this.ended) return;
    this.ended = true;
    this.unsubscribe();
    if (this.opened) {
      this.heartbeat.delete(this);
      if (why === 'too-slow') this.res.destroy();
      else if (!this.res.destroyed) this.res.end();
    }
    this.onEnd();
  }

  get isOpen(): boolean {
    return this.opened;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /**
   * Resolves once the socket has taken what was written (or the stream ended). The replay
   * waits on it, so a long backlog goes out at the client's pace instead of piling up past the
   * bound that marks a client as too slow. A client that takes nothing for a heartbeat period
   * is cut off (too slow) instead: it resumes from its last event id.
   */
  async caughtUp(): Promise<void> {
    if (this.ended || !this.res.writableNeedDrain) return;
    const drained = await new Promise<boolean>((resolve) => {
      const done = (taken: boolean) => {
        clearTimeout(timer);
        this.res.off('drain', onDrain);
        this.res.off('close', onDrain);
        resolve(taken);
      };
      const onDrain = () => done(true);
      // A client that takes nothing for a whole heartbeat period is not reading: the replay
      // would otherwise hold its batch (and the socket its buffer) for as long as it stays connected.
      const timer = setTimeout(() => done(false), this.heartbeatMs);
      this.res.on('drain', onDrain);
      this.res.on('close', onDrain);
    });
    if (!drained) this.end('too-slow');
  }
}

/** What an event stream uses. */
export interface StreamDeps {
  readonly db: Db;
  readonly hub: EventHub;
  readonly deliveries: Deliveries;
  readonly config: Pick<Config, 'heartbeatMs' | 'streamBufferBytes' | 'pollBatchSize' | 'presenceGroupLimit'>;
}

/**
 * Serves GET /events: subscribes, replays the backlog and returns once the stream is live. The
 * stream then lives on, held by the hub, the heartbeat and its socket alone, so the request's
 * context and the middleware chain are not kept alive for as long as the client stays connected.
 * `started` is called once its starting point is fixed, before the stream opens; `ended` once when
 * the stream ends — or when it fails before opening, before this throws.
 */
export async function serveEventStream(
  deps: StreamDeps,
  ctx: Koa.Context,
  session: Session,
  cursor: Position | undefined,
  { started, ended }: { started: () => void; ended: () => void },
): Promise<void> {
  // Subscribe first and fix "now" before the client sees a byte: whatever commits once it has
  // the `retry:` line is after the starting point, so it is replayed or delivered live.
  const stream = new SseStream(deps, session, ctx.res, ended);
  try {
    const { after, reset } = await startingPoint(deps.db, cursor);
    started();
    if (stream.closedBefore === 'revoked') throw sessionRevoked();
    if (stream.closedBefore === 'shutdown') throw unavailable('The server is restarting; reconnect shortly.');
    if (ctx.req.destroyed) {
      stream.end('unopened');
      return;
    }
    takeOverResponse(ctx);
    stream.open(after);
    stream.write(`retry: ${RETRY_MS}\n\n`);
    // The reset carries the new starting point as its id: a client that reconnects from it goes on from there.
    if (reset) stream.write(reset.frame);
    await replay(deps, stream, session.userId, after);
    await stream.goLive();
    // A comment marks "caught up and live", and makes curl and proxies show the stream at once.
    stream.write(': live\n\n');
  } catch (err) {
    if (!stream.isOpen) {
      stream.end('unopened');
      throw err;
    }
    ctx.state.log?.error({ err }, 'event stream failed');
    stream.end('closed');
  }
}

/** Sends the log from `after` up to what is committed now, in batches. */
async function replay(deps: StreamDeps, stream: SseStream, userId: number, after: Position): Promise<void> {
  let position = after;
  const limits = { limit: deps.config.pollBatchSize, presenceGroupLimit: deps.config.presenceGroupLimit };
  while (!stream.isEnded) {
    const batch = await readFeed(deps.db, userId, position, limits);
    for (const event of batch) {
      await stream.caughtUp();
      if (stream.isEnded) return;
      stream.send(event);
    }
    if (batch.length < deps.config.pollBatchSize) return;
    position = batch.at(-1)!.position!;
  }
}
