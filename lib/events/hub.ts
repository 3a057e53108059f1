import type { Logger } from 'pino';
import { selectPresenceAudiences } from '../store/conversations.ts';
import type { Db } from '../store/db.ts';
import {
  type AudienceRow,
  type EventRow,
  selectAudiences,
  selectHeadPosition,
  selectRecipients,
  selectTail,
} from '../store/events.ts';
import { isAfter, ORIGIN, type Position, samePosition } from '../store/position.ts';
import { groupBy } from '../util/group-by.ts';
import { RecentSet } from '../util/recent-set.ts';
import type { Bus, BusMessage } from './bus.ts';
import { WireEvent } from './wire.ts';

/** One open SSE stream or waiting long-poll of one session. */
export interface Subscriber {
  readonly userId: number;
  readonly sessionId: string;
  /** A waiting long-poll says so; everything else is an open stream (counted for /metrics). */
  readonly kind?: 'poll';
  /** Called in log order for logged events; ephemeral ones may arrive in between. */
  deliver(event: WireEvent): void;
  /** The session was revoked or the server is stopping. */
  close(reason: 'revoked' | 'shutdown'): void;
}

// Rows the tail reads per query: big enough to drain a burst in a few queries, small enough to keep
// memory bounded while a large backlog is fanned out.
const TAIL_BATCH = 1000;

// A failed read of the log (the database briefly unreachable) is tried again after this long.
const RETRY_AFTER_FAILURE_MS = 1000;

// While committed events wait behind an older transaction (PostgreSQL), read again after this long,
// doubling up to the maximum: the transaction holding them back may write no event, and so its end
// wakes nobody.
const HELD_BACK_RECHECK_MS = 25;
const HELD_BACK_RECHECK_MAX_MS = 1_000;

/** Events that change who is in a conversation. */
const MEMBERSHIP_EVENTS: ReadonlySet<string> = new Set([
  'conversation.created',
  'participant.added',
  'participant.removed',
]);

// Revocations remembered for subscribers that arrive just after them: a request takes
// milliseconds from authentication to subscribing, far less than 10,000 revocations.
const RECENT_REVOCATIONS = 10_000;

// Conversations whose audiences the tail keeps between batches.
const AUDIENCES_KEPT = 10_000;

// Users whose last visible event the hub remembers (see nothingAfter): ~50 bytes each, ~5 MB at
// most (plus one event's audience, MAX_GROUP_MEMBERS). Past it the memory starts again, and polls
// from before that point read the log.
const LAST_VISIBLE_KEPT = 100_000;

// The memory starts again at least this often, and at least twice per event retention: a cursor
// it vouches for is never one the log has pruned, which gets a `reset` instead.
const LAST_VISIBLE_FOR_MS = 60_000;

export interface HubLimits {
  /** Config.presenceGroupLimit: presence travels through conversations this small. */
  presenceGroupLimit: number;
  /** Config.eventRetentionMs. */
  eventRetentionMs: number;
  /** Users remembered by nothingAfter (the specs lower it). */
  lastVisibleKept?: number;
}

/**
 * This node's view of the event log. It tails the log once for the whole node — one read per
 * batch of new events, not one per subscriber — works out who may see each event, and hands the
 * shared WireEvent to exactly those users' local subscribers.
 */
export class EventHub {
  private readonly subscribers = new Map<number, Set<Subscriber>>();
  /** conversation → its membership periods, as of the tail (see audiencesOf). */
  private readonly audiences = new Map<number, AudienceRow[]>();
  private tail: Position = ORIGIN;
  /** See fannedOutThrough. */
  private fannedOut: Position = ORIGIN;
  private draining: Promise<void> | null = null;
  private wakeAgain = false;
  private unsubscribeBus: (() => void) | null = null;
  private retry: NodeJS.Timeout | undefined;
  private recheck: { timer: NodeJS.Timeout | undefined; delayMs: number } = { timer: undefined, delayMs: 0 };
  /** Sessions revoked lately: a subscriber of one is closed at once (see subscribe). */
  private readonly recentlyRevoked = new RecentSet<string>(RECENT_REVOCATIONS);
  /**
   * user → the position of the last event fanned out since `knownFrom` that the user may see,
   * whether or not they were listening then (see nothingAfter).
   */
  private readonly lastVisible = new Map<number, Position>();
  /** Everything fanned out after this position is in lastVisible; null: nothing yet. */
  private knownFrom: Position | null = null;
  /** When knownFrom was set (ms). */
  private knownSince = 0;
  private readonly presenceGroupLimit: number;
  private readonly lastVisibleKept: number;
  private readonly lastVisibleForMs: number;

  constructor(
    private readonly db: Db,
    private readonly bus: Bus,
    private readonly log: Logger,
    limits: HubLimits,
  ) {
    this.presenceGroupLimit = limits.presenceGroupLimit;
    this.lastVisibleKept = limits.lastVisibleKept ?? LAST_VISIBLE_KEPT;
    this.lastVisibleForMs = Math.min(LAST_VISIBLE_FOR_MS, limits.eventRetentionMs / 2);
  }

  async start(): Promise<void> {
    this.tail = await selectHeadPosition(this.db);
    this.fannedOut = this.tail;
    // An empty log's head is the origin, which a cursor from another database can pass for.
    if (!samePosition(this.tail, ORIGIN)) this.forgetVisibleBefore(this.tail);
    this.unsubscribeBus = this.bus.subscribe((message) => this.onBusMessage(message));
  }

  /** Stops tailing and closes every subscriber; waits for a drain in progress. */
  async stop(): Promise<void> {
    this.unsubscribeBus?.();
    this.unsubscribeBus = null;
    clearTimeout(this.retry);
    clearTimeout(this.recheck.timer);
    for (const set of this.subscribers.values()) for (const s of [...set]) s.close('shutdown');
    this.subscribers.clear();
    await this.draining;
  }

  subscribe(subscriber: Subscriber): () => void {
    // A stream whose session was authenticated just before its revoke was heard would otherwise
    // miss the close: it is closed as it subscribes (after the caller has finished constructing it).
    if (this.recentlyRevoked.has(subscriber.sessionId)) queueMicrotask(() => subscriber.close('revoked'));
    const set = this.subscribers.get(subscriber.userId) ?? new Set<Subscriber>();
    this.subscribers.set(subscriber.userId, set);
    set.add(subscriber);
    return () => {
      set.delete(subscriber);
      if (set.size === 0 && this.subscribers.get(subscriber.userId) === set)
        this.subscribers.delete(subscriber.userId);
    };
  }

  /** Called after each batch read from the log has been handed to this node's subscribers (/metrics). */
  onFannedOut: ((rows: readonly EventRow[]) => void) | null = null;

  /** Where this node has read the log up to. */
  get tailPosition(): Position {
    return this.tail;
  }

  /**
   * Every event up to here has been handed to every subscriber there was when it was, and what
   * comes after will be handed to every subscriber there is then: a subscriber whose client is at
   * exactly this position needs nothing from the log. Moved in the same synchronous step as the
   * hand-out, so no subscriber can come between the two.
   */
  get fannedOutThrough(): Position {
    return this.fannedOut;
  }

  /**
   * Whether nothing this node has fanned out after `cursor` is for this user: then a poll from
   * there has nothing to read from the log, and its subscriber is handed whatever comes next —
   * the re-poll of a client woken by a message, even when others' events (a receipt to the
   * sender, another conversation's message) went out before it came back. Only for a cursor this
   * node has seen the log pass since `knownFrom`, which moves on every minute or so, and at each
   * presence transition, whose audience is worked out for listening users only.
   */
  nothingAfter(userId: number, cursor: Position): boolean {
    if (samePosition(cursor, this.fannedOut)) return true;
    if (this.knownFrom === null || isAfter(this.knownFrom, cursor) || isAfter(cursor, this.fannedOut)) {
      return false;
    }
    const last = this.lastVisible.get(userId);
    return last === undefined || !isAfter(last, cursor);
  }

  /** How many users nothingAfter remembers (the specs watch it stay bounded). */
  usersRemembered(): number {
    return this.lastVisible.size;
  }

  /** This node's open streams and waiting polls. */
  connectionCounts(): { streams: number; polls: number } {
    let streams = 0;
    let polls = 0;
    for (const set of this.subscribers.values()) for (const s of set) s.kind === 'poll' ? polls++ : streams++;
    return { streams, polls };
  }

  /** Open streams plus waiting polls of one user on this node. */
  connectionsOf(userId: number): number {
    return this.subscribers.get(userId)?.size ?? 0;
  }

  private onBusMessage(message: BusMessage): void {
    switch (message.kind) {
      case 'log':
        this.wake();
        return;
      case 'ephemeral': {
        const event = WireEvent.ephemeral(message.type, message.data, message.at);
        for (const userId of message.userIds) this.deliverTo(userId, event);
        return;
      }
      case 'revoke': {
        for (const id of message.sessionIds) this.recentlyRevoked.add(id);
        const revoked = new Set(message.sessionIds);
        for (const set of this.subscribers.values()) {
          for (const s of [...set]) if (revoked.has(s.sessionId)) s.close('revoked');
        }
        return;
      }
    }
  }

  /** Reads and fans out whatever was committed since the last read; calls coalesce. */
  wake(): void {
    if (this.draining) {
      this.wakeAgain = true;
      return;
    }
    this.draining = this.drain()
      .catch((err) => {
        this.log.error({ err }, 'event tail failed; retrying');
        // Without a retry, subscribers would wait for the next commit to hear what is already committed.
        if (this.unsubscribeBus) this.retry = setTimeout(() => this.wake(), RETRY_AFTER_FAILURE_MS);
      })
      .finally(() => {
        this.draining = null;
        if (this.wakeAgain) {
          this.wakeAgain = false;
          this.wake();
        }
      });
  }

  private async drain(): Promise<void> {
    for (;;) {
      this.wakeAgain = false;
      const { rows, heldBack } = await selectTail(this.db, this.tail, TAIL_BATCH);
      if (rows.length < TAIL_BATCH) this.recheckWhileHeldBack(heldBack);
      if (rows.length === 0) return;
      // Before the audiences are read: an audience kept across a membership change would be wrong.
      this.forgetChangedAudiences(rows);
      const last = rows.at(-1)!;
      const through = { tx: last.tx, id: last.id };
      // Even with no subscriber here: who may see each event is remembered (see nothingAfter).
      await this.fanOut(rows, through);
      this.onFannedOut?.(rows);
      this.tail = through;
      if (rows.length < TAIL_BATCH && !this.wakeAgain) return;
    }
  }

  /** Reads again a little later while events are held back; stops once a read finds none. */
  private recheckWhileHeldBack(heldBack: boolean): void {
    if (!heldBack) {
      this.recheck.delayMs = 0;
      return;
    }
    if (this.recheck.timer || !this.unsubscribeBus) return;
    this.recheck.delayMs = this.recheck.delayMs
      ? Math.min(this.recheck.delayMs * 2, HELD_BACK_RECHECK_MAX_MS)
      : HELD_BACK_RECHECK_MS;
    this.recheck.timer = setTimeout(() => {
      this.recheck.timer = undefined;
      this.wake();
    }, this.recheck.delayMs);
    this.recheck.timer.unref();
  }

  private async fanOut(rows: EventRow[], through: Position): Promise<void> {
    const presence = rows.filter((r) => r.type === 'presence.updated');
    const directIds = rows
      .filter((r) => r.conversation_id === null && r.type !== 'presence.updated')
      .map((r) => r.id);
    const [membersOf, recipients, presenceAudiences] = await Promise.all([
      this.audiencesOf(rows),
      selectRecipients(this.db, directIds),
      this.presenceAudiencesOf(presence),
    ]);
    const recipientsOf = groupBy(
      recipients,
      (r) => r.event_id,
      (r) => r.user_id,
    );
    if (this.knownFrom === null || Date.now() - this.knownSince >= this.lastVisibleForMs) {
      this.forgetVisibleBefore({ tx: rows[0]!.tx, id: rows[0]!.id });
    }
    for (const row of rows) {
      const event = WireEvent.fromRow(row);
      const position = event.position!;
      if (this.lastVisible.size >= this.lastVisibleKept) this.forgetVisibleBefore(position);
      if (row.type === 'presence.updated') {
        // Who else may see it, among users not listening now, is not worked out.
        this.forgetVisibleBefore(position);
        for (const userId of presenceAudiences.get(row.id) ?? []) this.deliverTo(userId, event);
        continue;
      }
      if (row.conversation_id === null) {
        for (const userId of recipientsOf.get(row.id) ?? []) this.deliverTo(userId, event, position);
        continue;
      }
      // The same visibility rule as selectEventsForUser: after joining, up to and including leaving.
      for (const m of membersOf.get(row.conversation_id) ?? []) {
        if (row.id > m.joined_event_id && (m.left_event_id === null || row.id <= m.left_event_id)) {
          this.deliverTo(m.user_id, event, position);
        }
      }
    }
    this.fannedOut = through;
  }

  /** lastVisible starts again at `position`: what was fanned out up to it is no longer known. */
  private forgetVisibleBefore(position: Position): void {
    this.lastVisible.clear();
    this.knownFrom = position;
    this.knownSince = Date.now();
  }

  /**
   * The membership periods of the conversations these events belong to. They are kept between
   * batches: a conversation's change only together with a membership event in the log (created,
   * added, removed), which this tail reads in order and which drops them (forgetChangedAudiences),
   * so they are read again exactly then, or when the conversation is new to this node. Most
   * batches need no audience query at all.
   */
  private async audiencesOf(rows: EventRow[]): Promise<Map<number, AudienceRow[]>> {
    const missing = new Set<number>();
    for (const r of rows) {
      if (r.conversation_id !== null && !this.audiences.has(r.conversation_id))
        missing.add(r.conversation_id);
    }
    if (missing.size > 0) {
      const fresh = groupBy(
        await selectAudiences(this.db, [...missing], Math.min(...rows.map((r) => r.id))),
        (a) => a.conversation_id,
      );
      for (const id of missing) this.audiences.set(id, fresh.get(id) ?? []);
      // Oldest first in a Map: forget the conversations read longest ago.
      for (const id of this.audiences.keys()) {
        if (this.audiences.size <= AUDIENCES_KEPT) break;
        this.audiences.delete(id);
      }
    }
    const audiences = new Map<number, AudienceRow[]>();
    for (const r of rows) {
      if (r.conversation_id !== null)
        audiences.set(r.conversation_id, this.audiences.get(r.conversation_id) ?? []);
    }
    return audiences;
  }

  /**
   * Who on this node hears of each presence transition: its subject and whoever shares a
   * conversation of at most presenceGroupLimit members with them now — asked only about the users this node has subscribers of.
   */
  private async presenceAudiencesOf(rows: EventRow[]): Promise<Map<number, Iterable<number>>> {
    if (rows.length === 0 || this.subscribers.size === 0) return new Map();
    const subjectOf = new Map(
      rows.map((r) => [r.id, Number((JSON.parse(r.data) as { userId: string }).userId)]),
    );
    const audiences = await selectPresenceAudiences(
      this.db,
      [...new Set(subjectOf.values())],
      [...this.subscribers.keys()],
      this.presenceGroupLimit,
    );
    return new Map(rows.map((r) => [r.id, audiences.get(subjectOf.get(r.id)!) ?? []]));
  }

  private forgetChangedAudiences(rows: EventRow[]): void {
    for (const r of rows) {
      if (r.conversation_id !== null && MEMBERSHIP_EVENTS.has(r.type))
        this.audiences.delete(r.conversation_id);
    }
  }

  /** Hands the event to the user's subscribers here; `position`: and remembers the user may see it. */
  private deliverTo(userId: number, event: WireEvent, position?: Position): void {
    if (position) this.lastVisible.set(userId, position);
    const set = this.subscribers.get(userId);
    if (!set) return;
    for (const s of set) s.deliver(event);
  }
}
