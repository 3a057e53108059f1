import type { Logger } from 'pino';
import type { Bus } from '../events/bus.ts';
import type { Db, Runner } from '../store/db.ts';
import { dialectOf } from '../store/dialect.ts';
import { type EventRow, selectEventsAfter, selectHeadPosition } from '../store/events.ts';
import { encodeCursor } from '../store/position.ts';
import { recordSubscriptionFailure } from '../store/push.ts';
import {
  advancePushCursor,
  claimDueDeliveries,
  claimPushCursor,
  type DeliveryRow,
  type DeliveryState,
  deleteDeliveries,
  endSubscription,
  hasNewerDelivery,
  initPushCursor,
  insertMessageDeliveries,
  insertUserDeliveries,
  postponeDelivery,
  releaseDelivery,
  selectDeliveryStates,
} from '../store/push-deliveries.ts';
import { nowIso } from '../util/time.ts';
import { takeDeviceBudgets } from './device-budget.ts';
import { EndpointRefused } from './endpoint-guard.ts';
import { type DeviceLiveness, DeviceLivenessTracker } from './liveness.ts';
import { notificationOf } from './notification.ts';
import { PushWorkers } from './push-workers.ts';
import { type PushOutcome, pushOriginOf, sendToGateway, sendWebPush } from './senders.ts';
import { StatementBatcher } from './statement-batcher.ts';
import type { VapidKeys } from './vapid.ts';

/**
 * Offline notifications, durable and at least once.
 *
 * Why a consumer of the event log rather than an outbox written by the send: the send's
 * transaction stays exactly as it is — no extra statement, no fan-out to 1,000 devices inside it,
 * nothing a slow push service or a big group can add to a send's latency — and every kind of
 * notification (a message, being added) comes from events the log already holds. The price is
 * one more reader of the log, which is what the log is for.
 *
 * Two steps, each a transaction:
 * 1. Expand: read the log past the dispatcher's position (log_state `push_through`), write one
 *    `push_deliveries` row per subscribed, unmuted device owed a notification, and advance the
 *    position — together, so a crash repeats the step or none of it (the rows are unique per
 *    device and event). Only one node at a time holds the position (SKIP LOCKED); the others skip.
 * 2. Send: claim due rows with a lease (SKIP LOCKED, so two nodes never take the same row; a dead
 *    node's lease runs out and another node takes its rows over), decide at the row's turn whether
 *    it is still owed (not read, not deleted, device not live, not muted), send, then delete or
 *    postpone the row. A crash between sending and deleting sends once more: at least once.
 *
 * Sends never wait for any of this: the dispatcher wakes on the bus after the commit and works on
 * its own, at most `concurrency` pushes in flight per node.
 *
 * Bounds, so neither a busy device nor a slow push service takes more than its share:
 * - per push service (origin), at most `originConcurrency` requests in flight per node; a row for a
 *   service at its bound waits for a slot (up to as many again), and claims leave that service's
 *   rows alone meanwhile, so a service that stops answering holds only its own slots;
 * - per device, at most `deviceLimit` pushes per `deviceWindowMs` (counted in the database, so
 *   across nodes); past it a notification waits for the next window, and one that has waited is
 *   dropped if a newer one for the same conversation is owed (it carries the newer preview and
 *   unread count) — at most one per conversation per window once the budget is spent.
 */
export interface PushService {
  readonly vapidPublicKey: string;
  readonly liveness: DeviceLiveness;
  stop(): Promise<void>;
}

/** Offline notifications turned off (PUSH_ENABLED=false): subscriptions are kept, nothing is sent. */
export function pushTurnedOff(vapidPublicKey: string): PushService {
  return {
    vapidPublicKey,
    liveness: { connected: async () => () => {}, stop: async () => {} },
    stop: async () => {},
  };
}

export interface PushOptions {
  vapid: VapidKeys;
  previews: boolean;
  concurrency: number;
  originConcurrency: number;
  deviceLimit: number;
  deviceWindowMs: number;
  /** A push request unanswered this long has failed (PUSH_TIMEOUT_MS). */
  timeoutMs: number;
  allowPrivateEndpoints: boolean;
  pollWindowMs: number;
  streamGraceMs: number;
}

// Events read per expansion step: bounded, so one step is a short transaction.
const EXPAND_BATCH = 500;
// Due retries and anything the bus did not wake us for (another node's commit missed) are found
// by this pulse.
const PULSE_MS = 1_000;
// A commit wakes the dispatcher this long after it, so a burst of sends shares one round: a round
// per commit (two transactions, a read of the log, a claim) cost as much as the send itself. A
// notification to an offline device does not miss these milliseconds.
const GATHER_MS = 20;
// A claimed row is this node's for this many push timeouts; a node that dies mid-send gives it up
// after that. Three: a live node always settles its rows in time.
const LEASE_TIMEOUTS = 3;
// Retries stop a day after the notification was owed, the Web Push TTL.
const GIVE_UP_MS = 86_400_000;
const FIRST_RETRY_MS = 2_000;
const LONGEST_RETRY_MS = 3_600_000;
// The counters go to the log this often when they changed.
const REPORT_MS = 60_000;

export class PushDispatcher implements PushService {
  readonly vapidPublicKey: string;
  readonly liveness: DeviceLivenessTracker;
  private readonly workers: PushWorkers;
  /** Settled deliveries deleted a statement per group; each push waits for its row to be gone (at least once). */
  private readonly deletes: StatementBatcher<number, undefined>;
  /** Devices' budgets taken a statement per group, each as its push starts: null when taken, else when the window ends. */
  private readonly budget: StatementBatcher<string, string | null>;
  readonly counters = {
    sent: 0,
    retried: 0,
    expired: 0,
    dropped: 0,
    skipped: 0,
    /** Held back for the device's next window. */
    deferred: 0,
    /** Not sent: a newer notification for the same device and conversation was owed. */
    coalesced: 0,
  };
  private reported = '';
  private inFlight = 0;
  /** Per push service: requests in flight, and deliveries waiting for one of them to end. */
  private readonly origins = new Map<string, { active: number; waiting: (() => void)[] }>();
  private readonly sending = new Set<Promise<void>>();
  private running: Promise<void> | null = null;
  private again = false;
  /** The log may hold events past the position: set by the bus and the pulse. */
  private logPending = true;
  /**
   * Bumped when rows may have become claimable: written (an expansion step that wrote some, or
   * another node's), due (the pulse: retries, leases of dead nodes run out), given back. A commit
   * that owes nothing (most sends: the recipients are online) is no such change.
   */
  private rowsChanged = 0;
  /**
   * The last claim that came back short took every due row outside the push services it left
   * alone (`busy`, those at PUSH_ORIGIN_CONCURRENCY). Until rows change, a claim that leaves alone
   * at least those finds nothing — and would scan every row waiting for them to find that out:
   * with one push service saturated (FCM, say), that was one scan of its whole backlog per
   * finished push. A service leaving the busy list makes its rows claimable again.
   */
  private drainedOutside: { at: number; busy: string[] } | null = null;
  private stopped = false;
  private pulse: NodeJS.Timeout | undefined;
  private gathering: NodeJS.Timeout | undefined;
  private reporter: NodeJS.Timeout | undefined;
  private unsubscribe: () => void = () => {};

  constructor(
    private readonly deps: { db: Db; bus: Bus; log: Logger },
    private readonly options: PushOptions,
  ) {
    this.vapidPublicKey = options.vapid.publicKey;
    this.liveness = new DeviceLivenessTracker(deps, options.pollWindowMs, options.streamGraceMs);
    this.workers = new PushWorkers({
      vapid: options.vapid,
      allowPrivate: options.allowPrivateEndpoints,
      timeoutMs: options.timeoutMs,
    });
    this.deletes = new StatementBatcher(async (ids) => {
      await deleteDeliveries(deps.db, ids);
      return ids.map(() => undefined);
    });
    this.budget = new StatementBatcher((deviceIds) =>
      takeDeviceBudgets(deps.db, deviceIds, Date.now(), options.deviceWindowMs, options.deviceLimit),
    );
  }

  async start(): Promise<void> {
    // The first start reads the log from now: no notifications for history.
    await initPushCursor(this.deps.db, await selectHeadPosition(this.deps.db));
    this.workers.start();
    this.unsubscribe = this.deps.bus.subscribe((message) => {
      if (message.kind === 'log') this.wakeAfterGathering();
    });
    this.pulse = setInterval(() => this.wake('time'), PULSE_MS);
    this.pulse.unref();
    this.reporter = setInterval(() => this.report(), REPORT_MS);
    this.reporter.unref();
    this.wake();
  }

  /** Wakes the dispatcher GATHER_MS from now, for whatever has committed by then. */
  private wakeAfterGathering(): void {
    if (this.gathering) return;
    this.gathering = setTimeout(() => {
      this.gathering = undefined;
      this.wake('log');
    }, GATHER_MS);
  }

  /**
   * Runs a round now, or once more after the current one. `news`: the log moved (the bus), so read
   * it; or time did (the pulse): due retries and leases run out, and the log once more in case the
   * bus missed another node's commit. A finished push only makes room to claim into.
   */
  private wake(news: 'log' | 'time' | null = null): void {
    if (this.stopped) return;
    if (news) this.logPending = true;
    if (news === 'time') this.rowsChanged++; // retries fall due, leases of dead nodes run out
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.round()
      .catch((err) => this.deps.log.error({ err }, 'push dispatch failed'))
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async round(): Promise<void> {
    if (this.logPending) {
      this.logPending = false;
      let wrote = false;
      for (let more = true; more && !this.stopped; ) {
        const step = await this.expand();
        wrote ||= step.wrote;
        more = step.more;
      }
      if (wrote) this.rowsChanged++;
    }
    await this.claimAndSend();
  }

  /**
   * One expansion step. `more`: there may be more log to read; `wrote`: rows may have been written
   * (this step's, or another node's that holds the position now).
   */
  private async expand(): Promise<{ more: boolean; wrote: boolean }> {
    // Prepared statements in a prepared transaction: a knex transaction builds a knex instance of
    // its own (tens of KB of short-lived heap), and a step runs after every commit.
    return dialectOf(this.deps.db).commitPrepared(this.deps.db, async (trx) => {
      const from = await claimPushCursor(trx);
      if (!from) return { more: false, wrote: true }; // another node is reading the log
      const events = await selectEventsAfter(trx, from, EXPAND_BATCH);
      const last = events.at(-1);
      if (!last) return { more: false, wrote: false };
      let written = 0;
      for (const event of events) written += await this.owe(trx, event);
      await advancePushCursor(trx, { tx: last.tx, id: last.id });
      return { more: events.length === EXPAND_BATCH, wrote: written > 0 };
    });
  }

  /** Writes the rows an event owes, if it owes any; how many. */
  private async owe(trx: Runner, event: EventRow): Promise<number> {
    if (event.conversation_id === null) return 0;
    const base = {
      conversationId: event.conversation_id,
      eventId: event.id,
      eventCursor: encodeCursor(event),
      at: event.at,
    };
    if (event.type === 'message.created') {
      const message = JSON.parse(event.data) as { id: string; senderId: string };
      return insertMessageDeliveries(trx, {
        ...base,
        kind: 'message',
        messageId: Number(message.id),
        senderId: Number(message.senderId),
      });
    } else if (event.type === 'participant.added') {
      // Logged before one event named everyone a request added, it named one user.
      const added = JSON.parse(event.data) as { userIds?: string[]; userId?: string; addedBy: string };
      return insertUserDeliveries(trx, (added.userIds ?? [added.userId!]).map(Number), {
        ...base,
        kind: 'added',
        messageId: null,
        senderId: Number(added.addedBy),
      });
    }
    return 0;
  }

  private async claimAndSend(): Promise<void> {
    while (!this.stopped && this.inFlight < this.options.concurrency) {
      const room = this.options.concurrency - this.inFlight;
      const now = Date.now();
      const busy = [...this.origins]
        .filter(([, o]) => o.active >= this.options.originConcurrency)
        .map(([origin]) => origin);
      const drained = this.drainedOutside;
      if (drained?.at === this.rowsChanged && drained.busy.every((origin) => busy.includes(origin))) return;
      const rowsSeen = this.rowsChanged;
      const rows = await claimDueDeliveries(
        this.deps.db,
        new Date(now).toISOString(),
        new Date(now + LEASE_TIMEOUTS * this.options.timeoutMs).toISOString(),
        room,
        busy,
      );
      if (rows.length) this.launchClaim(rows);
      if (rows.length < room) this.drainedOutside = { at: rowsSeen, busy };
    }
  }

  /**
   * Starts a claim's deliveries. Whether each is still owed, and what it says, is read for the
   * whole claim in one statement as it starts — the row's turn, as when each row read its own.
   */
  private launchClaim(rows: DeliveryRow[]): void {
    const states = selectDeliveryStates(
      this.deps.db,
      rows.map((r) => r.id),
    );
    states.catch(() => {}); // each delivery meets the failure itself
    for (const row of rows) this.launch(row, states);
  }

  private launch(row: DeliveryRow, states: Promise<Map<number, DeliveryState>>): void {
    this.inFlight++;
    const work = this.deliver(row, states)
      .catch((err) => this.deps.log.error({ err, delivery: row.id }, 'push delivery failed'))
      .finally(() => {
        this.inFlight--;
        this.sending.delete(work);
        this.wake();
      });
    this.sending.add(work);
  }

  /** Sends one notification if it is still owed at its turn, then settles its row. */
  private async deliver(row: DeliveryRow, states: Promise<Map<number, DeliveryState>>): Promise<void> {
    const { db } = this.deps;
    const state = (await states).get(row.id);
    if (!state) {
      this.counters.skipped++; // its row went meanwhile (the device or its subscription was removed)
      return;
    }
    // One that has waited (for a retry or the device's next window) gives way to a newer one.
    if (state.hasNewer) {
      this.counters.coalesced++;
      await this.deletes.add(row.id);
      return;
    }
    const { subscription } = state;
    const live = state.liveUntil !== null && state.liveUntil > nowIso();
    const notification = subscription && !live ? notificationOf(row, state, this.options.previews) : null;
    if (!subscription || !notification) {
      this.counters.skipped++;
      await this.deletes.add(row.id);
      return;
    }
    const origin = pushOriginOf(subscription);
    if (!(await this.originSlot(origin))) {
      await releaseDelivery(db, row.id); // its service is saturated: another turn, on any node
      this.rowsChanged++; // claimable again, once its service leaves the busy list
      return;
    }
    let outcome: PushOutcome;
    try {
      const windowEnd = await this.budget.add(row.device_id);
      if (windowEnd !== null) {
        await this.holdBack(row, windowEnd);
        return;
      }
      try {
        outcome =
          subscription.type === 'webpush'
            ? await sendWebPush(this.workers, subscription, notification)
            : await sendToGateway(this.workers, subscription, notification);
      } catch (err) {
        outcome =
          err instanceof EndpointRefused
            ? { kind: 'failed', detail: err.message }
            : { kind: 'retry', detail: (err as Error).message, retryAfterSeconds: null };
      }
    } finally {
      this.freeOriginSlot(origin);
    }
    await this.settle(row, outcome);
  }

  /** The device spent its budget: drop this one for a newer of its conversation, or wait. */
  private async holdBack(row: DeliveryRow, windowEnd: string): Promise<void> {
    const { db } = this.deps;
    if (await hasNewerDelivery(db, row)) {
      this.counters.coalesced++;
      await this.deletes.add(row.id);
      return;
    }
    this.counters.deferred++;
    await postponeDelivery(db, row.id, row.attempts, windowEnd);
  }

  /**
   * A request slot for one push service: at once when it has fewer than `originConcurrency` in
   * flight, else after one of them ends — false when as many are waiting already (the row goes
   * back). A waiting delivery does not count against `concurrency`: a stalled service cannot
   * hold every slot of the node.
   */
  private async originSlot(origin: string): Promise<boolean> {
    let slots = this.origins.get(origin);
    if (!slots) {
      slots = { active: 0, waiting: [] };
      this.origins.set(origin, slots);
    }
    if (slots.active < this.options.originConcurrency) {
      slots.active++;
      return true;
    }
    if (slots.waiting.length >= this.options.originConcurrency) return false;
    this.inFlight--;
    await new Promise<void>((resolve) => slots.waiting.push(resolve));
    this.inFlight++;
    return true;
  }

  /** Hands the slot to the next waiting delivery, or gives it up. */
  private freeOriginSlot(origin: string): void {
    const slots = this.origins.get(origin);
    if (!slots) return;
    const next = slots.waiting.shift();
    if (next) {
      next();
      return;
    }
    slots.active--;
    if (slots.active === 0) this.origins.delete(origin);
  }

  private async settle(row: DeliveryRow, outcome: PushOutcome): Promise<void> {
    const { db, log } = this.deps;
    if (outcome.kind === 'sent') {
      this.counters.sent++;
      await this.deletes.add(row.id);
      return;
    }
    const at = nowIso();
    await recordSubscriptionFailure(db, row.device_id, at, outcome.detail);
    if (outcome.kind === 'expired') {
      this.counters.expired++;
      log.info({ device: row.device_id, detail: outcome.detail }, 'push subscription ended by its service');
      await endSubscription(db, row.device_id);
      return;
    }
    const retryAt =
      outcome.kind === 'retry' ? Date.now() + retryDelayMs(row.attempts, outcome.retryAfterSeconds) : 0;
    if (outcome.kind === 'failed' || retryAt - Date.parse(row.created_at) > GIVE_UP_MS) {
      this.counters.dropped++;
      log.warn({ device: row.device_id, detail: outcome.detail, attempts: row.attempts + 1 }, 'push dropped');
      await this.deletes.add(row.id);
      return;
    }
    this.counters.retried++;
    await postponeDelivery(db, row.id, row.attempts + 1, new Date(retryAt).toISOString());
  }

  private report(): void {
    const line = JSON.stringify(this.counters);
    if (line === this.reported) return;
    this.reported = line;
    this.deps.log.info({ push: this.counters }, 'push notifications');
  }

  /** Stops claiming, lets the pushes in flight finish (their rows stay leased otherwise), reports. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe();
    clearInterval(this.pulse);
    clearInterval(this.reporter);
    clearTimeout(this.gathering);
    await this.running;
    await Promise.all(this.sending);
    await this.workers.close();
    await this.liveness.stop();
    this.deps.log.info({ push: this.counters }, 'push notifications at shutdown');
  }
}

/**
 * How long before the next attempt: what the service asked (Retry-After, up to the day), else
 * exponential from FIRST_RETRY_MS, capped, with full jitter in its upper half so a fleet of
 * notifications that failed together does not come back together.
 */
export function retryDelayMs(attempts: number, retryAfterSeconds: number | null): number {
  if (retryAfterSeconds !== null) return Math.min(GIVE_UP_MS, Math.max(0, retryAfterSeconds * 1000));
  const ceiling = Math.min(LONGEST_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.min(attempts, 20));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}
