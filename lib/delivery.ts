import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Bus } from './events/bus.ts';
import { commitWithEvents, type RecordEvent } from './events/log.ts';
import { isAfter, latest, ORIGIN, type Position } from './events/position.ts';
import type { WireEvent } from './events/wire.ts';
import { presentReceipt } from './receipts.ts';
import type { Db } from './store/db.ts';
import { selectHeadPosition } from './store/events.ts';
import {
  advanceDelivered,
  selectAcknowledgedMessages,
  selectReceipt,
  selectSendersBetween,
} from './store/receipts.ts';

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

/**
 * Collects delivered facts in memory and writes them every `flushMs` in one transaction: at most
 * one UPDATE per member and conversation per flush, however many messages arrived — never a
 * write per message per recipient on the hot path. A mark that moves sends `receipt.updated` to
 * the senders of the newly delivered messages.
 *
 * What is pending when the process dies is lost; the next stream write or poll acknowledges again.
 */
export class DeliveryRecorder implements Deliveries {
  /** user → conversation → newest message id written to one of their streams. */
  private written_ = new Map<number, Map<number, number>>();
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
    let byConversation = this.written_.get(userId);
    if (!byConversation) {
      byConversation = new Map();
      this.written_.set(userId, byConversation);
    }
    const known = byConversation.get(ref.conversationId) ?? 0;
    if (ref.messageId > known) byConversation.set(ref.conversationId, ref.messageId);
  }

  acknowledged(userId: number, cursor: Position): void {
    const done = this.acked.get(userId);
    if (done && !isAfter(cursor, done)) return;
    this.acks.set(userId, latest(this.acks.get(userId) ?? ORIGIN, cursor));
  }

  /** Flushes run one after another, so marks are written in the order they were learned. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.writePending());
    return this.flushing;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush().catch((err) => this.deps.log.error({ err }, 'writing delivered marks failed'));
  }

  private async writePending(): Promise<void> {
    const written = this.written_;
    const acks = this.acks;
    if (written.size === 0 && acks.size === 0) return;
    this.written_ = new Map();
    this.acks = new Map();
    const marks = new Map<string, { userId: number; conversationId: number; messageId: number }>();
    const mark = (userId: number, conversationId: number, messageId: number) => {
      const key = `${userId}:${conversationId}`;
      const known = marks.get(key);
      if (!known || known.messageId < messageId) marks.set(key, { userId, conversationId, messageId });
    };
    for (const [userId, byConversation] of written) {
      for (const [conversationId, messageId] of byConversation) mark(userId, conversationId, messageId);
    }
    // A cursor beyond the log (the database was replaced, or a made-up one) got a `reset`, not
    // the events it names: it acknowledges nothing.
    const head = acks.size > 0 ? await selectHeadPosition(this.deps.db) : ORIGIN;
    for (const [userId, cursor] of acks) {
      if (isAfter(cursor, head)) continue;
      const from = this.acked.get(userId) ?? ORIGIN;
      for (const m of await selectAcknowledgedMessages(this.deps.db, userId, from, cursor)) {
        mark(userId, m.conversationId, m.messageId);
      }
      this.acked.set(userId, latest(from, cursor));
    }
    if (marks.size === 0) return;
    await commitWithEvents(this.deps, async (trx, record) => {
      for (const m of marks.values())
        await this.advance(trx, record, m.userId, m.conversationId, m.messageId);
    });
  }

  private async advance(
    trx: Knex.Transaction,
    record: RecordEvent,
    userId: number,
    conversationId: number,
    messageId: number,
  ): Promise<void> {
    const before = await selectReceipt(trx, conversationId, userId);
    if (!before) return; // they left meanwhile
    const from = Math.max(before.last_delivered_message_id, before.last_read_message_id);
    if (messageId <= from || !(await advanceDelivered(trx, before.membership_id, messageId))) return;
    const senders = await selectSendersBetween(trx, conversationId, from, messageId, userId);
    if (senders.length === 0) return;
    const after = (await selectReceipt(trx, conversationId, userId))!;
    await record({
      type: 'receipt.updated',
      recipients: senders,
      data: presentReceipt(conversationId, after),
    });
  }
}
