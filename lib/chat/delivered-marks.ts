import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Bus } from '../events/bus.ts';
import { commitWithEvents, inConversation } from '../events/log.ts';
import type { WireEvent } from '../events/wire.ts';
import type { Db } from '../store/db.ts';
import { type NewEvent, selectHeadPosition } from '../store/events.ts';
import { isAfter, latest, ORIGIN, type Position } from '../store/position.ts';
import {
  type AcknowledgedRange,
  advanceDeliveredAll,
  type ReceiptRow,
  selectAcknowledgedMessages,
  selectMessageSenders,
  selectReceiptsOf,
} from '../store/receipts.ts';
import { groupBy } from '../util/group-by.ts';
import { presentReceipt } from './receipts.ts';

/**
 * Delivered marks. A message is delivered to a member once
 *  - its `message.created` frame was written to one of their SSE streams (handed to the socket
 *    without the stream being cut for slowness), or
 *  - they polled `/events/poll` with a cursor at or after its `message.created` event: passing a
 *    cursor back acknowledges everything up to it.
 * Reading implies delivered. Marks only move forward.
 */
export interface Deliveries {
  /** An event was written to one of the user's SSE streams. */
  written(userId: number, event: WireEvent): void;
  /** The user polled with this cursor: everything up to it reached them. */
  acknowledged(userId: number, cursor: Position): void;
  /** Writes what is pending now (specs and shutdown). */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

/** Delivered tracking turned off (DELIVERY_FLUSH_MS=0). */
export const NO_DELIVERIES: Deliveries = {
  written: () => {},
  acknowledged: () => {},
  flush: async () => {},
  stop: async () => {},
};

interface MessageRef {
  conversationId: number;
  messageId: number;
  senderId: number;
}

/** Each message.created WireEvent is shared by all its recipients: parse its ids once. */
const refs = new WeakMap<WireEvent, MessageRef | null>();
function messageRef(event: WireEvent): MessageRef | null {
  if (event.type !== 'message.created') return null;
  let ref = refs.get(event);
  if (ref === undefined) {
    const data = (
      JSON.parse(event.json) as { data: { id: string; conversationId: string; senderId: string } }
    ).data;
    ref = {
      conversationId: Number(data.conversationId),
      messageId: Number(data.id),
      senderId: Number(data.senderId),
    };
    refs.set(event, ref);
  }
  return ref;
}

/** conversation → user → the newest message known to have reached them. */
type Marks = Map<number, Map<number, number>>;

/** Raises a user's mark in `marks` to `messageId` unless it is already as high. */
function raise(marks: Marks, conversationId: number, userId: number, messageId: number): void {
  let byUser = marks.get(conversationId);
  if (!byUser) {
    byUser = new Map();
    marks.set(conversationId, byUser);
  }
  if (messageId > (byUser.get(userId) ?? 0)) byUser.set(userId, messageId);
}

// Marks written per transaction, and poll cursors looked up per read. A flush is split into such
// steps with a turn of the event loop between them: on SQLite every statement blocks the process,
// so one transaction for a 5,000-member group's marks would hold every stream back for its length.
const MARKS_PER_STEP = 150;
const ACKS_PER_STEP = 150;

// Users whose processed poll position is remembered (about 100 bytes each).
const ACKED_USERS_KEPT = 100_000;

// Marks (and poll cursors) kept for the next flush while flushes fail: about 100 bytes each.
const MAX_PENDING_MARKS = 100_000;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Collects delivered facts in memory and writes them every `flushMs`: never a write per message
 * per recipient on the hot path, and per flush a few statements per conversation and step, however
 * many members' marks move. A mark that moves sends `receipt.updated` to the senders of the newly
 * delivered messages.
 *
 * What is pending when the process dies is lost; the next stream write or poll acknowledges again.
 */
export class DeliveryRecorder implements Deliveries {
  /** Newest message written to one of each user's streams. */
  private written_: Marks = new Map();
  /** user → newest poll cursor not yet processed. */
  private acks = new Map<number, Position>();
  /** user → the newest cursor already processed, so the next lookup reads only what is newer. */
  private readonly acked = new Map<number, Position>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: { db: Db; bus: Bus; log: Logger },
    flushMs: number,
  ) {
    this.timer = setInterval(() => {
      this.flush().catch((err) => this.deps.log.error({ err }, 'writing delivered marks failed'));
    }, flushMs);
    this.timer.unref();
  }

  written(userId: number, event: WireEvent): void {
    const ref = messageRef(event);
    if (!ref || ref.senderId === userId) return;
    raise(this.written_, ref.conversationId, userId, ref.messageId);
  }

  acknowledged(userId: number, cursor: Position): void {
    const done = this.acked.get(userId);
    if (done && !isAfter(cursor, done)) return;
    this.acks.set(userId, latest(this.acks.get(userId) ?? ORIGIN, cursor));
  }

  /**
   * Flushes run one after another, so marks are written in the order they were learned. One that
   * failed does not stop the next (its caller saw the failure), and left its marks to be retried.
   */
  flush(): Promise<void> {
    this.flushing = this.flushing.catch(() => {}).then(() => this.writePending());
    return this.flushing;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush().catch((err) => this.deps.log.error({ err }, 'writing delivered marks failed'));
  }

  private async writePending(): Promise<void> {
    const marks = this.written_;
    const acks = this.acks;
    if (marks.size === 0 && acks.size === 0) return;
    this.written_ = new Map();
    this.acks = new Map();
    try {
      await this.addAcknowledged(marks, acks);
    } catch (err) {
      this.retryLater(marks, acks);
      throw err;
    }
    const all = [...steps(marks, MARKS_PER_STEP)];
    for (const [i, step] of all.entries()) {
      try {
        await commitWithEvents(
          inConversation(this.deps, ...step.keys()),
          async (trx, _record, recordMany) => {
            const events: NewEvent[] = [];
            for (const [conversationId, byUser] of step) {
              events.push(...(await advanceConversation(trx, conversationId, byUser)));
            }
            await recordMany(events);
          },
        );
      } catch (err) {
        // This step and the ones after it were not written: they wait for the next flush.
        for (const unwritten of all.slice(i)) this.retryLater(unwritten, new Map());
        throw err;
      }
      await nextTurn();
    }
  }

  /**
   * Puts what a failed flush did not write back with what is pending, up to MAX_PENDING_MARKS
   * marks and as many cursors: while the database stays down, memory must not grow without bound.
   * A mark dropped here is written again by the user's next delivery.
   */
  private retryLater(marks: Marks, acks: Map<number, Position>): void {
    for (const [conversationId, byUser] of marks) {
      for (const [userId, messageId] of byUser) {
        if (this.pendingMarks() >= MAX_PENDING_MARKS) break;
        raise(this.written_, conversationId, userId, messageId);
      }
    }
    for (const [userId, cursor] of acks) {
      if (this.acks.size >= MAX_PENDING_MARKS && !this.acks.has(userId)) break;
      this.acks.set(userId, latest(this.acks.get(userId) ?? ORIGIN, cursor));
    }
  }

  private pendingMarks(): number {
    let n = 0;
    for (const byUser of this.written_.values()) n += byUser.size;
    return n;
  }

  /**
   * Remembers how far a user's polls were processed, most recent users last. Bounded: a user
   * forgotten here costs one longer lookup (from the start of the log) when they poll again.
   */
  private rememberAcked(userId: number, position: Position): void {
    this.acked.delete(userId);
    this.acked.set(userId, position);
    if (this.acked.size > ACKED_USERS_KEPT) this.acked.delete(this.acked.keys().next().value as number);
  }

  /** Adds to `marks` the newest message of each conversation that the poll cursors acknowledged. */
  private async addAcknowledged(marks: Marks, acks: Map<number, Position>): Promise<void> {
    if (acks.size === 0) return;
    // A cursor beyond the log (the database was replaced, or a made-up one) got a `reset`, not
    // the events it names: it acknowledges nothing.
    const head = await selectHeadPosition(this.deps.db);
    const ranges: AcknowledgedRange[] = [];
    for (const [userId, to] of acks) {
      if (isAfter(to, head)) continue;
      ranges.push({ userId, from: this.acked.get(userId) ?? ORIGIN, to });
    }
    for (let i = 0; i < ranges.length; i += ACKS_PER_STEP) {
      if (i > 0) await nextTurn();
      const acknowledged = await selectAcknowledgedMessages(this.deps.db, ranges.slice(i, i + ACKS_PER_STEP));
      for (const m of acknowledged) raise(marks, m.conversationId, m.userId, m.messageId);
    }
    // Only once every lookup succeeded: a failed one leaves the cursors to be looked up again.
    for (const { userId, from, to } of ranges) this.rememberAcked(userId, latest(from, to));
  }
}

/** Splits marks into steps of at most `size` marks; a large conversation spreads over several. */
function* steps(marks: Marks, size: number): Generator<Marks> {
  let step: Marks = new Map();
  let count = 0;
  for (const [conversationId, byUser] of marks) {
    for (const [userId, messageId] of byUser) {
      if (count === size) {
        yield step;
        step = new Map();
        count = 0;
      }
      raise(step, conversationId, userId, messageId);
      count++;
    }
  }
  if (count > 0) yield step;
}

/**
 * Moves the delivered marks of members of one conversation, in a fixed number of statements: one
 * read of their receipts, one UPDATE per distinct target message, one read of who sent what. Returns
 * a `receipt.updated` for each member whose mark moved past messages of others, addressed to those
 * senders. Members who left meanwhile are skipped.
 */
async function advanceConversation(
  trx: Knex.Transaction,
  conversationId: number,
  marks: Map<number, number>,
): Promise<NewEvent[]> {
  const receipts = await selectReceiptsOf(trx, conversationId, [...marks.keys()]);
  const moves = receipts.flatMap((before) => {
    // What was read was delivered: a mark below the read mark is no news.
    const from = Math.max(before.last_delivered_message_id, before.last_read_message_id);
    const to = marks.get(before.user_id)!;
    return to > from ? [{ before, from, to }] : [];
  });
  if (moves.length === 0) return [];
  const moved = await advanceEach(trx, moves);
  const done = moves.filter((m) => moved.has(m.before.membership_id));
  if (done.length === 0) return [];
  // One read covers every member's range. It is as long as the furthest-behind mark makes it, but
  // marks start at joining and move with each stream write or poll: usually a message or a few.
  const senders = sendersIndex(
    await selectMessageSenders(
      trx,
      conversationId,
      Math.min(...done.map((m) => m.from)),
      Math.max(...done.map((m) => m.to)),
    ),
  );
  return done.flatMap(({ before, from, to }) => {
    const recipients = senders.between(from, to, before.user_id);
    if (recipients.length === 0) return [];
    const after: ReceiptRow = { ...before, last_delivered_message_id: to };
    return [{ type: 'receipt.updated', recipients, data: presentReceipt(conversationId, after) }];
  });
}

/** Advances each membership to its target, one UPDATE per distinct target; returns those that moved. */
async function advanceEach(
  trx: Knex.Transaction,
  moves: { before: ReceiptRow; to: number }[],
): Promise<Set<number>> {
  const byTarget = groupBy(
    moves,
    (m) => m.to,
    (m) => m.before.membership_id,
  );
  const moved = new Set<number>();
  for (const [to, ids] of byTarget) {
    for (const id of await advanceDeliveredAll(trx, ids, to)) moved.add(id);
  }
  return moved;
}

/**
 * Who sent messages in a range, answerable per member: each sender's message ids in order, so
 * "did they send anything in (from, to]" is a binary search, not a scan of the range per member.
 */
function sendersIndex(messages: { id: number; senderId: number }[]) {
  const idsBySender = groupBy(
    messages,
    (m) => m.senderId,
    (m) => m.id,
  );
  return {
    /** Who sent messages in (from, to], other than `exceptUserId`. */
    between(from: number, to: number, exceptUserId: number): number[] {
      const senders: number[] = [];
      for (const [senderId, ids] of idsBySender) {
        if (senderId === exceptUserId) continue;
        const first = ids[firstAbove(ids, from)];
        if (first !== undefined && first <= to) senders.push(senderId);
      }
      return senders;
    },
  };
}

/** The index of the first element of ascending `ids` above `value` (ids.length if none). */
function firstAbove(ids: readonly number[], value: number): number {
  let low = 0;
  let high = ids.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (ids[mid]! <= value) low = mid + 1;
    else high = mid;
  }
  return low;
}
