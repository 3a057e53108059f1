import type { Executor } from './db.ts';

export interface DeviceRow {
  id: string;
  user_id: number;
  name: string | null;
  created_at: string;
  last_seen_at: string | null;
  push_type: 'webpush' | 'gateway' | null;
  push_created_at: string | null;
  push_last_failure_at: string | null;
  push_last_failure: string | null;
}

const DEVICE_COLUMNS = [
  'devices.id',
  'devices.user_id',
  'devices.name',
  'devices.created_at',
  'devices.last_seen_at',
  'push_subscriptions.type as push_type',
  'push_subscriptions.created_at as push_created_at',
  'push_subscriptions.last_failure_at as push_last_failure_at',
  'push_subscriptions.last_failure as push_last_failure',
];

const devicesWithPush = (db: Executor) =>
  db('devices').leftJoin('push_subscriptions', 'push_subscriptions.device_id', 'devices.id');

export async function insertDevice(
  db: Executor,
  device: { id: string; userId: number; name: string | null; at: string },
): Promise<void> {
  await db('devices').insert({
    id: device.id,
    user_id: device.userId,
    name: device.name,
    created_at: device.at,
    last_seen_at: device.at,
  });
}

/** One of this user's devices, with its push subscription's summary; undefined if not theirs. */
export async function selectDevice(db: Executor, userId: number, id: string): Promise<DeviceRow | undefined> {
  return devicesWithPush(db).first(DEVICE_COLUMNS).where({ 'devices.id': id, 'devices.user_id': userId });
}

/** A user's devices, oldest first. */
export async function selectDevicesOf(db: Executor, userId: number): Promise<DeviceRow[]> {
  return devicesWithPush(db)
    .select(DEVICE_COLUMNS)
    .where('devices.user_id', userId)
    .orderBy('devices.created_at');
}

export async function renameDevice(db: Executor, id: string, name: string | null): Promise<void> {
  await db('devices').where({ id }).update({ name });
}

/** A device logged into again: it was seen now. */
export async function touchDevice(db: Executor, id: string, at: string): Promise<void> {
  await db('devices').where({ id }).update({ last_seen_at: at });
}

/** Deletes a device (its subscription and owed notifications go with it); true if it existed. */
export async function deleteDeviceRow(db: Executor, id: string): Promise<boolean> {
  // Explicitly, not by cascade alone: SQLite enforces foreign keys only when asked to.
  await db('push_deliveries').where({ device_id: id }).delete();
  await db('push_subscriptions').where({ device_id: id }).delete();
  return Number(await db('devices').where({ id }).delete()) > 0;
}

/**
 * Deletes every device of a user, with their subscriptions and owed notifications (key material
 * goes by cascade): an account being deleted keeps nothing a push could be sent with.
 */
export async function deleteDevicesOf(db: Executor, userId: number): Promise<void> {
  await db('push_deliveries').where({ user_id: userId }).delete();
  await db('push_subscriptions').where({ user_id: userId }).delete();
  // Their end-to-end encryption keys and unclaimed key packages go with them (lib/e2ee/).
  await db('key_packages')
    .whereIn('device_id', db('devices').select('id').where({ user_id: userId }))
    .delete();
  await db('device_keys').where({ user_id: userId }).delete();
  await db('devices').where({ user_id: userId }).delete();
}

/** Revokes the device's live sessions; returns their ids, for the bus to close their streams. */
export async function revokeDeviceSessions(db: Executor, deviceId: string, at: string): Promise<string[]> {
  const rows = await db('sessions').select('id').where({ device_id: deviceId }).whereNull('revoked_at');
  const ids = rows.map((r: { id: string }) => r.id);
  if (ids.length) await db('sessions').whereIn('id', ids).update({ revoked_at: at });
  return ids;
}

/** Marks devices as live until `until` (a node holds a stream or poll of theirs), seen at `at`. */
export async function holdDevicesLive(
  db: Executor,
  ids: readonly string[],
  until: string,
  at: string,
): Promise<void> {
  if (ids.length === 0) return;
  await db('devices').whereIn('id', ids).update({ live_until: until, last_seen_at: at });
}
