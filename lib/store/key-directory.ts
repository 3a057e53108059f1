import { type Executor, rowsOf } from './db.ts';
import { dialectOf } from './dialect.ts';

export interface DeviceKeysRow {
  device_id: string;
  user_id: number;
  cipher_suite: number;
  credential: string;
  signature_key: string;
  created_at: string;
}

/** Sets a device's keys unless it has some; false if it had (the caller answers 409). */
export async function insertDeviceKeys(
  db: Executor,
  keys: {
    deviceId: string;
    userId: number;
    cipherSuite: number;
    credential: string;
    signatureKey: string;
    at: string;
  },
): Promise<boolean> {
  const inserted = await db('device_keys')
    .insert({
      device_id: keys.deviceId,
      user_id: keys.userId,
      cipher_suite: keys.cipherSuite,
      credential: keys.credential,
      signature_key: keys.signatureKey,
      created_at: keys.at,
    })
    .onConflict('device_id')
    .ignore()
    .returning('device_id');
  return inserted.length > 0;
}

/** The keys of these devices, by device id. */
export async function selectDeviceKeys(
  db: Executor,
  deviceIds: readonly string[],
): Promise<Map<string, DeviceKeysRow>> {
  if (deviceIds.length === 0) return new Map();
  const rows: DeviceKeysRow[] = await db('device_keys').select('*').whereIn('device_id', deviceIds);
  return new Map(rows.map((r) => [r.device_id, { ...r, cipher_suite: Number(r.cipher_suite) }]));
}

/** The devices of these users that have keys, oldest first. */
export async function selectKeyedDevicesOf(
  db: Executor,
  userIds: readonly number[],
): Promise<{ device_id: string; user_id: number }[]> {
  if (userIds.length === 0) return [];
  return db('device_keys')
    .join('devices', 'devices.id', 'device_keys.device_id')
    .select('device_keys.device_id', 'device_keys.user_id')
    .whereIn('device_keys.user_id', userIds)
    .orderBy([{ column: 'devices.created_at' }, { column: 'devices.id' }]);
}

/** How many one-time (not last-resort) key packages each of these devices has waiting. */
export async function countKeyPackages(
  db: Executor,
  deviceIds: readonly string[],
): Promise<Map<string, number>> {
  if (deviceIds.length === 0) return new Map();
  const rows = await db('key_packages')
    .select('device_id')
    .count({ n: '*' })
    .whereIn('device_id', deviceIds)
    .andWhere('last_resort', false)
    .groupBy('device_id');
  return new Map(
    (rows as { device_id: string; n: number | string }[]).map((r) => [r.device_id, Number(r.n)]),
  );
}

const PACKAGE_CHUNK = 100; // rows per INSERT, under SQLite's 500-term compound SELECT bound

/** Stores one-time key packages, and replaces the last-resort one when given. */
export async function insertKeyPackages(
  db: Executor,
  deviceId: string,
  packages: readonly string[],
  lastResort: string | undefined,
  at: string,
): Promise<void> {
  for (let i = 0; i < packages.length; i += PACKAGE_CHUNK) {
    await db('key_packages').insert(
      packages
        .slice(i, i + PACKAGE_CHUNK)
        .map((p) => ({ device_id: deviceId, last_resort: false, key_package: p, created_at: at })),
    );
  }
  if (lastResort !== undefined) {
    await db('key_packages').where({ device_id: deviceId, last_resort: true }).delete();
    await db('key_packages').insert({
      device_id: deviceId,
      last_resort: true,
      key_package: lastResort,
      created_at: at,
    });
  }
}

/**
 * Takes one of the device's one-time key packages, oldest first, and deletes it in the same
 * statement, so no two claims ever get the same one: on SQLite the statement runs alone; on
 * PostgreSQL the row is locked as it is chosen and rows another claim holds are skipped (SKIP
 * LOCKED), so concurrent claims on several nodes take different packages instead of waiting for,
 * and then missing, the same one. Undefined when none is left.
 */
export async function takeKeyPackage(db: Executor, deviceId: string): Promise<string | undefined> {
  const oldest = dialectOf(db).claimRows(
    db('key_packages').select('id').where({ device_id: deviceId, last_resort: false }).orderBy('id').limit(1),
  );
  // Raw: knex drops RETURNING from a DELETE on SQLite.
  const result = await db.raw('DELETE FROM key_packages WHERE id = (?) RETURNING key_package', [oldest]);
  return rowsOf<{ key_package: string }>(result)[0]?.key_package;
}

/** The device's last-resort key package, which may be handed out any number of times. */
export async function selectLastResortPackage(db: Executor, deviceId: string): Promise<string | undefined> {
  const row = await db('key_packages').first('key_package').where({ device_id: deviceId, last_resort: true });
  return row?.key_package;
}

/** Deletes a device's keys and key packages (the device is signed out). */
export async function deleteDeviceKeyMaterial(db: Executor, deviceId: string): Promise<void> {
  // Explicitly, not by cascade alone: SQLite enforces foreign keys only when asked to.
  await db('key_packages').where({ device_id: deviceId }).delete();
  await db('device_keys').where({ device_id: deviceId }).delete();
}

/** Everyone who shares a current encrypted conversation with the user (not the user). */
export async function selectEncryptedContactIds(db: Executor, userId: number): Promise<number[]> {
  const rows = await db('memberships as mine')
    .join('conversations', 'conversations.id', 'mine.conversation_id')
    .join('memberships as theirs', 'theirs.conversation_id', 'mine.conversation_id')
    .distinct('theirs.user_id')
    .where('mine.user_id', userId)
    .andWhere('conversations.encrypted', true)
    .whereNull('mine.left_event_id')
    .whereNull('theirs.left_event_id')
    .whereNot('theirs.user_id', userId);
  return rows.map((r: { user_id: number }) => Number(r.user_id));
}

/** Which of these users exist and have not deleted their account. */
export async function selectLiveUserIds(db: Executor, ids: readonly number[]): Promise<number[]> {
  if (ids.length === 0) return [];
  const rows = await db('users').select('id').whereIn('id', ids).whereNull('deleted_at');
  return rows.map((r: { id: number }) => Number(r.id));
}
