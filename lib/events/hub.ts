import type { Logger } from 'pino';
import { groupBy } from '../group.ts';
import type { Db } from '../store/db.ts';
import {
  type AudienceRow,
  type EventRow,
  selectAudiences,
  selectEventsAfter,
  selectHeadPosition,
  selectRecipients,
} from '../store/events.ts';
import type { Bus, BusMessage } from './bus.ts';
import { ORIGIN, type Position } from './position.ts';
import { WireEvent } from './wire.ts';

/** One open SSE stream or waiting long-poll of one session. */
export interface Subscriber {
  readonly userId: number;
  readonly sessionId: string;
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

/** Events that change who is in a conversation. */
const MEMBERSHIP_EVENTS: ReadonlySet<string> = new Set([
  'conversation.created',
  'participant.added',
  'participant.removed',
]);

// Conversations whose audiences the tail keeps between batches.
const AUDIENCES_KEPT = 10_000;

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
  private draining: Promise<void> | null = null;
  private wakeAgain = false;
  private unsubscribeBus: (() => void) | null = null;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.tail = await selectHeadPosition(this.db);
    this.unsubscribeBus = this.bus.subscribe((message) => this.onBusMessage(message));
  }

  /** Stops tailing and closes every subscriber; waits for a drain in progress. */
  async stop(): Promise<void> {
    this.unsubscribeBus?.();
    this.unsubscribeBus = null;
    clearTimeout(this.retry);
    for (const set of this.subscribers.values()) for (const s of [...set]) s.close('shutdown');
    this.subscribers.clear();
    await this.draining;
  }

  subscribe(subscriber: Subscriber): () => void {
    const set = this.subscribers.get(subscriber.userId) ?? new Set<Subscriber>();
    this.subscribers.set(subscriber.userId, set);
    set.add(subscriber);
    return () => {
      set.delete(subscriber);
      if (set.size === 0 && this.subscribers.get(subscriber.userId) === set)
        this.subscribers.delete(subscriber.userId);
    };
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
      const rows = await selectEventsAfter(this.db, this.tail, TAIL_BATCH);
      if (rows.length === 0) return;
      // Every batch, fanned out or not: an audience kept across a membership change would be wrong.
      this.forgetChangedAudiences(rows);
      if (this.subscribers.size > 0) await this.fanOut(rows);
      const last = rows.at(-1)!;
      this.tail = { tx: last.tx, id: last.id };
      if (rows.length < TAIL_BATCH && !this.wakeAgain) return;
    }
  }

  private async fanOut(rows: EventRow[]): Promise<void> {
    const directIds = rows.filter((r) => r.conversation_id === null).map((r) => r.id);
    const [membersOf, recipients] = await Promise.all([
      this.audiencesOf(rows),
      selectRecipients(this.db, directIds),
    ]);
    const recipientsOf = groupBy(
      recipients,
      (r) => r.event_id,
      (r) => r.user_id,
    );
    for (const row of rows) {
      const event = WireEvent.fromRow(row);
      if (row.conversation_id === null) {
        for (const userId of recipientsOf.get(row.id) ?? []) this.deliverTo(userId, event);
        continue;
      }
      // The same visibility rule as selectEventsForUser: after joining, up to and including leaving.
      for (const m of membersOf.get(row.conversation_id) ?? []) {
        if (row.id > m.joined_event_id && (m.left_event_id === null || row.id <= m.left_event_id)) {
          this.deliverTo(m.user_id, event);
        }
      }
    }
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

  private forgetChangedAudiences(rows: EventRow[]): void {
    for (const r of rows) {
      if (r.conversation_id !== null && MEMBERSHIP_EVENTS.has(r.type))
        this.audiences.delete(r.conversation_id);
    }
  }

  private deliverTo(userId: number, event: WireEvent): void {
    const set = this.subscribers.get(userId);
    if (!set) return;
    for (const s of set) s.deliver(event);
  }
}
