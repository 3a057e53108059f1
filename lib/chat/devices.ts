import { randomBytes } from 'node:crypto';
import { type DeviceKeysJson, keyMaterialOf, presentKeys } from '../e2ee/key-directory.ts';
import type { Store } from '../events/log.ts';
import { commitWithEvents } from '../events/log.ts';
import { noSuchUser, notFound } from '../http/problems.ts';
import type { Session } from '../security/sessions.ts';
import type { Executor } from '../store/db.ts';
import {
  type DeviceRow,
  deleteDeviceRow,
  insertDevice,
  renameDevice as renameDeviceRow,
  revokeDeviceSessions,
  selectDevice,
  selectDevicesOf,
  touchDevice,
} from '../store/devices.ts';
import { deleteDeviceKeyMaterial, selectEncryptedContactIds } from '../store/key-directory.ts';
import { selectUserById } from '../store/users.ts';
import { nowIso } from '../util/time.ts';

export interface DeviceJson {
  id: string;
  name: string | null;
  createdAt: string;
  lastSeenAt: string | null;
  current: boolean;
  push: {
    type: 'webpush' | 'gateway';
    createdAt: string;
    lastFailureAt: string | null;
    lastFailure: string | null;
  } | null;
  /** Its MLS identity (lib/e2ee/), null until published; and its unclaimed one-time key packages. */
  keys: DeviceKeysJson | null;
  keyPackagesLeft: number;
}

export interface PublicDeviceJson {
  id: string;
  keys: DeviceKeysJson | null;
  createdAt: string;
}

const presentDevice = (
  row: DeviceRow,
  session: Session,
  material: Awaited<ReturnType<typeof keyMaterialOf>>,
): DeviceJson => ({
  id: row.id,
  name: row.name,
  createdAt: row.created_at,
  lastSeenAt: row.last_seen_at,
  current: row.id === session.deviceId,
  push:
    row.push_type && row.push_created_at
      ? {
          type: row.push_type,
          createdAt: row.push_created_at,
          lastFailureAt: row.push_last_failure_at,
          lastFailure: row.push_last_failure,
        }
      : null,
  keys: presentKeys(material.keys.get(row.id)),
  keyPackagesLeft: material.left.get(row.id) ?? 0,
});

/** Devices as their owner sees them, with their keys and key package counts (two more queries). */
async function presentDevices(db: Executor, rows: DeviceRow[], session: Session): Promise<DeviceJson[]> {
  const material = await keyMaterialOf(
    db,
    rows.map((r) => r.id),
  );
  return rows.map((row) => presentDevice(row, session, material));
}

const noSuchDevice = () => notFound('There is no such device among yours.');

/** The device ids the API hands out: 128 random bits, base64url. */
const newDeviceId = (): string => randomBytes(16).toString('base64url');

/**
 * The device a login attaches to: one of the user's own named by `id`, else a new one (an id that
 * is not theirs makes a new device rather than an error, so a client that kept a deleted device's
 * id just gets a fresh one). A new device is announced to the user's other devices; those who
 * share an encrypted conversation with the user hear of it when it publishes its keys (lib/e2ee/).
 */
export async function deviceForLogin(
  deps: Store,
  userId: number,
  requested: { id?: string | undefined; name?: string | undefined } | undefined,
): Promise<string> {
  const at = nowIso();
  if (requested?.id) {
    const existing = await selectDevice(deps.db, userId, requested.id);
    if (existing) {
      if (requested.name !== undefined) await renameDeviceRow(deps.db, existing.id, requested.name);
      await touchDevice(deps.db, existing.id, at);
      return existing.id;
    }
  }
  const id = newDeviceId();
  await commitWithEvents(deps, async (trx, record) => {
    await insertDevice(trx, { id, userId, name: requested?.name ?? null, at });
    await record({
      type: 'device.added',
      recipients: [userId],
      data: { userId: String(userId), deviceId: id },
    });
  });
  return id;
}

export async function listDevices(db: Executor, session: Session): Promise<DeviceJson[]> {
  return presentDevices(db, await selectDevicesOf(db, session.userId), session);
}

export async function getDevice(db: Executor, session: Session, id: string): Promise<DeviceJson> {
  const row = await selectDevice(db, session.userId, id);
  if (!row) throw noSuchDevice();
  const [device] = await presentDevices(db, [row], session);
  return device!;
}

export async function renameDevice(
  db: Executor,
  session: Session,
  id: string,
  name: string | null,
): Promise<DeviceJson> {
  if (!(await selectDevice(db, session.userId, id))) throw noSuchDevice();
  await renameDeviceRow(db, id, name);
  return getDevice(db, session, id);
}

/**
 * Signs a device out everywhere: its sessions are revoked and the device, its push subscription and
 * the notifications owed to it are deleted in one transaction; then the bus's `revoke` closes its
 * streams and polls on every node and drops the sessions from every node's cache.
 */
export async function deleteDevice(deps: Store, session: Session, id: string): Promise<void> {
  const at = nowIso();
  const revoked = await commitWithEvents(deps, async (trx, record) => {
    if (!(await selectDevice(trx, session.userId, id))) throw noSuchDevice();
    const sessionIds = await revokeDeviceSessions(trx, id, at);
    await deleteDeviceKeyMaterial(trx, id);
    await deleteDeviceRow(trx, id);
    await record({
      type: 'device.removed',
      recipients: [session.userId, ...(await selectEncryptedContactIds(trx, session.userId))],
      data: { userId: String(session.userId), deviceId: id },
    });
    return sessionIds;
  });
  if (revoked.length) deps.bus.publish({ kind: 'revoke', sessionIds: revoked });
}

/** What others need to encrypt for a user: ids, keys and ages, no names and no activity. */
export async function listPublicDevices(db: Executor, userId: number): Promise<PublicDeviceJson[]> {
  const user = await selectUserById(db, userId);
  if (!user) throw noSuchUser(userId);
  const rows = await selectDevicesOf(db, userId);
  const material = await keyMaterialOf(
    db,
    rows.map((r) => r.id),
  );
  return rows.map((row) => ({
    id: row.id,
    keys: presentKeys(material.keys.get(row.id)),
    createdAt: row.created_at,
  }));
}
