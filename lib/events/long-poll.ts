import type Koa from 'koa';
import type { Config } from '../config.ts';
import { sessionRevoked } from '../http/problems.ts';
import type { Session } from '../security/sessions.ts';
import type { Db } from '../store/db.ts';
import { encodeCursor, isAfter, ORIGIN, type Position } from '../store/position.ts';
import { readFeed, readFeedNow, type StartingPoint, startingPoint } from './feed.ts';
import type { EventHub, Subscriber } from './hub.ts';
import type { WireEvent } from './wire.ts';

/**
 * A poll's subscription. It collects from the moment it subscribes (before the log is read, so
 * nothing committed in between is missed) and wakes the poll once it is waiting and has news.
 */
class Waiter implements Subscriber {
  readonly kind = 'poll';
  readonly userId: number;
  readonly sessionId: string;
  private collected: WireEvent[] = [];
  private after: Position = ORIGIN;
  private waiting = false;
  private settled = false;
  /** Why the hub closed this poll, if it did. */
  closedBecause: 'revoked' | 'shutdown' | null = null;
  private resolve!: () => void;
  readonly woken: Promise<void>;

  constructor(session: Session) {
    this.userId = session.userId;
    this.sessionId = session.id;
    this.woken = new Promise((r) => {
      this.resolve = r;
    });
  }

  /** The log was read up to `after` and had nothing: wait for what comes next. */
  waitAfter(after: Position): void {
    this.after = after;
    this.collected = this.collected.filter((e) => e.position === null || isAfter(e.position, after));
    this.waiting = true;
    if (this.collected.length) this.wakeSoon();
  }

  get events(): readonly WireEvent[] {
    return this.collected;
  }

  deliver(event: WireEvent): void {
    if (event.position !== null && !isAfter(event.position, this.after)) return;
    this.collected.push(event);
    if (this.waiting) this.wakeSoon();
  }

  close(reason: 'revoked' | 'shutdown'): void {
    this.closedBecause = reason;
    this.wake();
  }

  // Answer on the next turn, so events fanned out together leave together.
  private wakeSoon(): void {
    setImmediate(() => this.wake());
  }

  wake(): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve();
  }
}

const POLL_HEADERS = [
  ['Cache-Control', 'no-store'],
  ['Content-Type', 'application/json; charset=utf-8'],
] as const;

/** Body of a poll answer, assembled from the events' shared JSON. */
const pollBody = (events: readonly WireEvent[], cursor: Position): string =>
  `{"events":[${events.map((e) => e.json).join(',')}],"cursor":"${encodeCursor(cursor)}"}`;

/** What a long-poll uses. */
export interface PollDeps {
  readonly db: Db;
  readonly hub: EventHub;
  readonly config: Pick<Config, 'pollBatchSize' | 'presenceGroupLimit'>;
}

/** Where a poll starts, and what it answers at once if anything. */
async function openPoll(
  deps: PollDeps,
  userId: number,
  cursor: Position | undefined,
  timeoutMs: number,
): Promise<StartingPoint & { backlog: WireEvent[] }> {
  const limits = { limit: deps.config.pollBatchSize, presenceGroupLimit: deps.config.presenceGroupLimit };
  // A poll that will not wait answers with everything committed before it.
  if (timeoutMs === 0) return readFeedNow(deps.db, userId, cursor, limits);
  // A waiting poll from where nothing the node has fanned out since is for this user — the re-poll
  // of a woken poll — has nothing to read: its waiter, subscribed before this, is handed whatever
  // comes next.
  if (cursor !== undefined && deps.hub.nothingAfter(userId, cursor)) {
    return { after: cursor, reset: null, backlog: [] };
  }
  const start = await startingPoint(deps.db, cursor);
  return { ...start, backlog: await readFeed(deps.db, userId, start.after, limits) };
}

/**
 * Serves GET /events/poll: answers at once when events are pending, otherwise waits up to
 * `timeoutMs`. `started` is called once the poll's starting point is fixed.
 */
export async function servePoll(
  deps: PollDeps,
  ctx: Koa.Context,
  session: Session,
  cursor: Position | undefined,
  timeoutMs: number,
  started: () => void,
): Promise<void> {
  ctx.req.socket.setTimeout(0);
  // Subscribe before reading the log: whatever commits after the read is caught by the waiter.
  const waiter = new Waiter(session);
  const unsubscribe = deps.hub.subscribe(waiter);
  const onClose = () => waiter.wake();
  ctx.req.on('close', onClose);
  let timer: NodeJS.Timeout | undefined;
  try {
    const { after, reset, backlog } = await openPoll(deps, session.userId, cursor, timeoutMs);
    started();
    let events: WireEvent[] = reset ? [reset, ...backlog] : backlog;
    let position = backlog.at(-1)?.position ?? after;
    if (events.length === 0 && timeoutMs > 0) {
      waiter.waitAfter(after);
      timer = setTimeout(() => waiter.wake(), timeoutMs);
      await waiter.woken;
      // A poll of a session revoked while it waited answers like any request of that session.
      if (waiter.closedBecause === 'revoked') throw sessionRevoked();
      events = waiter.events.slice(0, deps.config.pollBatchSize);
      for (const e of events) if (e.position !== null) position = e.position;
    }
    // Each answer depends on the caller and the moment: a cache must never replay one (no-store).
    // Written straight to Node's response rather than through Koa's: one message wakes every
    // waiting poll, their answers leave back to back, and Koa's per-response work (MIME lookup,
    // body type sniffing, delegated setters) lengthens that burst (see the README's Performance).
    ctx.respond = false;
    const res = ctx.res;
    res.statusCode = 200;
    for (const [name, value] of POLL_HEADERS) res.setHeader(name, value);
    res.end(pollBody(events, position));
    // One message wakes every waiting poll in the same turn: let all of them answer before any
    // tidies up (here and up the middleware), so the last answer is not held back by the others'.
    await new Promise(setImmediate);
  } finally {
    clearTimeout(timer);
    ctx.req.off('close', onClose);
    unsubscribe();
  }
}
