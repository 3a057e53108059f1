import type { Knex } from 'knex';
import type { Executor, Runner } from './db.ts';
import { dialectOf } from './dialect.ts';
import type { Position } from './position.ts';
import { prepared } from './prepared.ts';
import type { PushSubscriptionRow } from './push.ts';

/** The dispatcher's place in the event log, kept in log_state beside the pruning point. */
const CURSOR_KEY = 'push_through';

export interface DeliveryRow {
  id: number;
  device_id: string;
  user_id: number;
  conversation_id: number;
  message_id: number | null;
  /** The message's sender, or who added the recipient. */
  sender_id: number;
  kind: 'message' | 'added';
  event_id: number;
  event_cursor: string;
  attempts: number;
  due_at: string;
  created_at: string;
}

/** Creates the dispatcher's position at `head` unless it exists (the first start reads from now). */
export async function initPushCursor(db: Executor, head: Position): Promise<void> {
  await db('log_state').insert({ key: CURSOR_KEY, tx: head.tx, id: head.id }).onConflict('key').ignore();
}

/**
 * Claims the dispatcher's position for this transaction: null when another node holds it (it is
 * reading the log now; this node leaves it to that one).
 */
export async function claimPushCursor(trx: Runner): Promise<Position | null> {
  const [row] = await selectCursorForUpdate.rows<{ tx: number | string; id: number | string }>(trx, {});
  return row ? { tx: Number(row.tx), id: Number(row.id) } : null;
}

const selectCursorForUpdate = prepared([], (db) =>
  db.raw(`SELECT tx, id FROM log_state WHERE key = ? ${dialectOf(db).claimLock}`, [CURSOR_KEY]),
);

export async function advancePushCursor(trx: Runner, to: Position): Promise<void> {
  await updateCursor.changes(trx, { tx: to.tx, id: to.id });
}

const updateCursor = prepared(['tx', 'id'], (db, p) =>
  db('log_state').where({ key: CURSOR_KEY }).update({ tx: p.tx, id: p.id }),
);

/** One notification owed for an event, to every device it goes to. */
export interface OwedNotification {
  kind: 'message' | 'added';
  conversationId: number;
  /** The message (kind 'message'), else null. */
  messageId: number | null;
  /** The message's sender, or who added the recipient. */
  senderId: number;
  eventId: number;
  eventCursor: string;
  /** When the event happened: the rows are due (and created) then. */
  at: string;
}

// The rows are made in the database (INSERT … SELECT), not read into the process and written back:
// for a group of 1,000 that was ~100 ms on the one SQLite connection that sends wait for.
const INSERT = `INSERT INTO push_deliveries
  (device_id, user_id, kind, conversation_id, message_id, sender_id, event_id, event_cursor, due_at, created_at)
  SELECT s.device_id, s.user_id, CAST(? AS TEXT), CAST(? AS INTEGER), CAST(? AS INTEGER), CAST(? AS INTEGER),
         CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT)`;
// Rows are unique per device and event: repeating an expansion step adds nothing.
const UNLESS_OWED = 'ON CONFLICT (device_id, event_id) DO NOTHING';
const NOT_MUTED =
  'NOT EXISTS (SELECT 1 FROM conversation_mutes x WHERE x.user_id = s.user_id AND x.conversation_id = ?)';

const OWED = ['kind', 'conversationId', 'messageId', 'senderId', 'eventId', 'eventCursor', 'at'] as const;
type OwedParams = Record<(typeof OWED)[number], Knex.Value>;
const insertArgs = (p: OwedParams) => [
  p.kind,
  p.conversationId,
  p.messageId,
  p.senderId,
  p.eventId,
  p.eventCursor,
  p.at,
  p.at,
];

/**
 * Owes a message's notification to the subscribed devices of the conversation's members at its
 * event, except its sender, who have not muted it. How many rows it wrote.
 */
export function insertMessageDeliveries(db: Runner, n: OwedNotification): Promise<number> {
  return insertForMembers.changes(db, n);
}

const insertForMembers = prepared(OWED, (db, p) =>
  db.raw(
    `${INSERT}
       FROM memberships m JOIN push_subscriptions s ON s.user_id = m.user_id
      WHERE m.conversation_id = ? AND m.user_id <> ? AND m.joined_event_id < ?
        AND (m.left_event_id IS NULL OR m.left_event_id >= ?) AND ${NOT_MUTED}
     ${UNLESS_OWED}`,
    [...insertArgs(p), p.conversationId, p.senderId, p.eventId, p.eventId, p.conversationId],
  ),
);

/** Owes a notification to these users' subscribed devices, except theirs who muted the conversation. */
export function insertUserDeliveries(
  db: Runner,
  userIds: readonly number[],
  n: OwedNotification,
): Promise<number> {
  return insertForUsers.changes(db, { ...n, userIds: dialectOf(db).list(userIds) });
}

const insertForUsers = prepared([...OWED, 'userIds'], (db, p) =>
  db.raw(
    `${INSERT}
       FROM push_subscriptions s
      WHERE s.user_id IN ? AND ${NOT_MUTED}
     ${UNLESS_OWED}`,
    [...insertArgs(p), dialectOf(db).listOf(db, p.userIds, 'integer'), p.conversationId],
  ),
);

/**
 * Claims up to `limit` deliveries that are due and not leased by a live node, leasing them until
 * `leaseUntil`: a node that dies mid-send leaves its lease to run out, and another node takes
 * the work over. Several nodes claim at once without taking the same row (SKIP LOCKED). One
 * statement, prepared: a claim runs every time pushes finish.
 */
export async function claimDueDeliveries(
  db: Runner,
  now: string,
  leaseUntil: string,
  limit: number,
  /** Push services (URL prefixes up to the path, e.g. `https://fcm.googleapis.com/`) to leave alone. */
  busyOrigins: readonly string[] = [],
): Promise<DeliveryRow[]> {
  const rows = busyOrigins.length
    ? await claimDueElsewhere.rows<DeliveryRow>(db, {
        leaseUntil,
        now,
        busy: dialectOf(db).list(busyOrigins),
        limit,
      })
    : await claimDue.rows<DeliveryRow>(db, { leaseUntil, now, limit });
  for (const r of rows) {
    r.id = Number(r.id);
    r.event_id = Number(r.event_id);
  }
  // Oldest first, as they were chosen (RETURNING keeps no order).
  return rows.sort((a, b) => (a.due_at < b.due_at ? -1 : a.due_at > b.due_at ? 1 : a.id - b.id));
}

type ClaimParams = Record<'leaseUntil' | 'now' | 'limit', Knex.Value>;

function claimStatement(db: Knex, p: ClaimParams, busy: Knex.Value | null): Knex.Raw {
  const d = dialectOf(db);
  const elsewhere =
    busy === null
      ? ''
      : `AND NOT EXISTS (SELECT 1 FROM push_subscriptions s
           JOIN ? b ON substr(coalesce(s.endpoint, s.gateway_url), 1, length(b.value)) = b.value
          WHERE s.device_id = q.device_id)`;
  return db.raw(
    `UPDATE push_deliveries SET leased_until = ?
      WHERE id IN (SELECT q.id FROM push_deliveries q
                    WHERE q.due_at <= ? AND (q.leased_until IS NULL OR q.leased_until < ?) ${elsewhere}
                    ORDER BY q.due_at LIMIT ? ${d.claimLock})
     RETURNING *`,
    [p.leaseUntil, p.now, p.now, ...(busy === null ? [] : [d.listOf(db, busy, 'text')]), p.limit],
  );
}

const claimDue = prepared(['leaseUntil', 'now', 'limit'], (db, p) => claimStatement(db, p, null));
const claimDueElsewhere = prepared(['leaseUntil', 'now', 'busy', 'limit'], (db, p) =>
  claimStatement(db, p, p.busy),
);

/** Gives a claimed delivery back, due as it was, for any node to claim again. */
export async function releaseDelivery(db: Executor, id: number): Promise<void> {
  await db('push_deliveries').where({ id }).update({ leased_until: null });
}

/**
 * Whether a newer notification is owed to the same device for the same conversation: it carries the
 * newer preview and unread count, so this one need not be sent (as a push service's Topic would
 * replace it anyway).
 */
export async function hasNewerDelivery(db: Executor, row: DeliveryRow): Promise<boolean> {
  return !!(await db('push_deliveries')
    .first('id')
    .where({ device_id: row.device_id, conversation_id: row.conversation_id })
    .where('event_id', '>', row.event_id));
}

/** Deletes settled deliveries: one statement for many (ids are many only in the dispatcher's batches). */
export async function deleteDeliveries(db: Runner, ids: readonly number[]): Promise<void> {
  await deleteById.changes(db, { ids: dialectOf(db).list(ids) });
}

const deleteById = prepared(['ids'], (db, p) =>
  db('push_deliveries')
    .whereIn('id', dialectOf(db).listOf(db, p.ids, 'integer'))
    .delete(),
);

/**
 * What decides at a delivery's turn whether it is still owed, and what it says: everything the
 * dispatcher used to read with six statements per push, for a whole claim in one.
 */
export interface DeliveryState {
  /** The device's subscription now; null when it has none any more. */
  subscription: PushSubscriptionRow | null;
  /** Until when a node holds one of the device's connections (devices.live_until). */
  liveUntil: string | null;
  /** The recipient's current membership; null when they left (or were removed). */
  member: {
    muted: boolean;
    lastReadMessageId: number;
    unreadCount: number;
    direct: boolean;
    title: string | null;
  } | null;
  /** The message (kind 'message'); null when it was deleted. */
  message: { id: number; body: string; encrypted: boolean } | null;
  /** The sender's display name; null when the account is gone. */
  senderName: string | null;
  /** A delivery that has waited (a retry, a deferral) and has a newer one of its device and conversation. */
  hasNewer: boolean;
}

/** A row of deliveryStates: left joins, so anything past the delivery's own columns may be null. */
interface StateRow {
  id: number | string;
  device_id: string;
  user_id: number | string;
  type: 'webpush' | 'gateway' | null;
  endpoint: string;
  p256dh: string;
  auth: string;
  gateway_url: string;
  app_id: string;
  push_key: string;
  created_at: string;
  live_until: string | null;
  conversation_found: number | null;
  conversation_type: string | null;
  title: string | null;
  last_read_message_id: number | string | null;
  unread_count: number | string;
  muted_by: number | null;
  message_found: number | string | null;
  body: string;
  ciphertext: string | null;
  display_name: string | null;
  has_newer: number | string;
}

/** The state of each of `ids` that still exists, by id. */
export async function selectDeliveryStates(
  db: Runner,
  ids: readonly number[],
): Promise<Map<number, DeliveryState>> {
  if (ids.length === 0) return new Map();
  const rows = await deliveryStates.rows<StateRow>(db, { ids: dialectOf(db).list(ids) });
  const states = new Map<number, DeliveryState>();
  for (const r of rows) {
    const base = { device_id: r.device_id, user_id: Number(r.user_id), created_at: r.created_at };
    const subscription: PushSubscriptionRow | null =
      r.type === 'webpush'
        ? { ...base, type: 'webpush', endpoint: r.endpoint, p256dh: r.p256dh, auth: r.auth }
        : r.type === 'gateway'
          ? { ...base, type: 'gateway', gateway_url: r.gateway_url, app_id: r.app_id, push_key: r.push_key }
          : null;
    states.set(Number(r.id), {
      subscription,
      liveUntil: r.live_until ?? null,
      member:
        r.conversation_found === null
          ? null
          : {
              muted: r.muted_by !== null,
              lastReadMessageId: Number(r.last_read_message_id ?? 0),
              unreadCount: Number(r.unread_count),
              direct: r.conversation_type === 'direct',
              title: r.title ?? null,
            },
      message:
        r.message_found === null
          ? null
          : { id: Number(r.message_found), body: r.body, encrypted: r.ciphertext !== null },
      senderName: r.display_name ?? null,
      hasNewer: Number(r.has_newer) === 1,
    });
  }
  return states;
}

const deliveryStates = prepared(['ids'], (db, p) =>
  db('push_deliveries as d')
    .leftJoin('push_subscriptions as s', 's.device_id', 'd.device_id')
    .leftJoin('devices as v', 'v.id', 'd.device_id')
    // The member's view as selectMemberView (lib/store/conversations.ts) reads it.
    .leftJoin('memberships as m', function () {
      this.on('m.conversation_id', 'd.conversation_id')
        .andOn('m.user_id', 'd.user_id')
        .andOnNull('m.left_event_id');
    })
    .leftJoin('conversations as c', 'c.id', 'm.conversation_id')
    .leftJoin('conversation_mutes as x', function () {
      this.on('x.user_id', 'd.user_id').andOn('x.conversation_id', 'd.conversation_id');
    })
    .leftJoin('messages as g', function () {
      this.on('g.conversation_id', 'd.conversation_id').andOn('g.id', 'd.message_id');
    })
    .leftJoin('users as u', function () {
      this.on('u.id', 'd.sender_id').andOnNull('u.deleted_at');
    })
    .select(
      'd.id',
      'd.device_id',
      'd.user_id',
      's.type',
      's.endpoint',
      's.p256dh',
      's.auth',
      's.gateway_url',
      's.app_id',
      's.push_key',
      's.created_at',
      'v.live_until',
      'c.id as conversation_found',
      'c.type as conversation_type',
      'c.title',
      'm.last_read_message_id',
      db.raw('c.message_count - m.settled_count AS unread_count'),
      'x.user_id as muted_by',
      'g.id as message_found',
      'g.body',
      'g.ciphertext',
      'u.display_name',
      db.raw(
        `CASE WHEN d.due_at > d.created_at AND EXISTS (
           SELECT 1 FROM push_deliveries n
            WHERE n.device_id = d.device_id AND n.conversation_id = d.conversation_id
              AND n.event_id > d.event_id) THEN 1 ELSE 0 END AS has_newer`,
      ),
    )
    .whereIn('d.id', dialectOf(db).listOf(db, p.ids, 'integer')),
);

/** Puts a delivery back for another attempt at `dueAt`. */
export async function postponeDelivery(
  db: Executor,
  id: number,
  attempts: number,
  dueAt: string,
): Promise<void> {
  await db('push_deliveries').where({ id }).update({ attempts, due_at: dueAt, leased_until: null });
}

/** Ends a subscription that its push service says is gone, with every delivery owed to it. */
export async function endSubscription(db: Executor, deviceId: string): Promise<void> {
  // The subscription first: once no notification is owed to the device, it has none.
  await db('push_subscriptions').where({ device_id: deviceId }).delete();
  await db('push_deliveries').where({ device_id: deviceId }).delete();
}
