import type { Store } from '../events/log.ts';
import { commitWithEvents } from '../events/log.ts';
import { deviceKeysMissing, deviceKeysSet, invalid, keyPackagesFull, notFound } from '../http/problems.ts';
import type { Session } from '../security/sessions.ts';
import type { Executor } from '../store/db.ts';
import { selectDevice } from '../store/devices.ts';
import { dialectOf } from '../store/dialect.ts';
import type { NewEvent } from '../store/events.ts';
import {
  countKeyPackages,
  type DeviceKeysRow,
  insertDeviceKeys,
  insertKeyPackages,
  selectDeviceKeys,
  selectEncryptedContactIds,
  selectKeyedDevicesOf,
  selectLastResortPackage,
  selectLiveUserIds,
  takeKeyPackage,
} from '../store/key-directory.ts';
import { toId } from '../util/ids.ts';
import { nowIso } from '../util/time.ts';

/**
 * Under this many one-time key packages a device is told to upload more (`key-packages.low`): a
 * claim hands one out per device, so ten covers ten new groups while the device is offline.
 */
export const KEY_PACKAGES_LOW = 10;

/** The one-time key packages a device may have waiting at once: bounds what one device stores. */
export const MAX_KEY_PACKAGES_PER_DEVICE = 1000;

export interface DeviceKeysJson {
  cipherSuite: number;
  credential: string;
  signatureKey: string;
  createdAt: string;
}

export const presentKeys = (row: DeviceKeysRow | undefined): DeviceKeysJson | null =>
  row
    ? {
        cipherSuite: row.cipher_suite,
        credential: row.credential,
        signatureKey: row.signature_key,
        createdAt: row.created_at,
      }
    : null;

/** Keys and waiting key packages of these devices, for Device and PublicDevice. */
export async function keyMaterialOf(
  db: Executor,
  deviceIds: readonly string[],
): Promise<{ keys: Map<string, DeviceKeysRow>; left: Map<string, number> }> {
  const [keys, left] = await Promise.all([selectDeviceKeys(db, deviceIds), countKeyPackages(db, deviceIds)]);
  return { keys, left };
}

const noSuchDevice = () => notFound('There is no such device among yours.');

/**
 * Publishes a device's MLS identity, once (409 if it has keys: a new key is a new device). From now
 * on others can encrypt for it, so everyone who shares an encrypted conversation with its user gets
 * `device.added` (its own user heard of it at login).
 */
export async function setDeviceKeys(
  deps: Store,
  session: Session,
  deviceId: string,
  keys: { cipherSuite: number; credential: string; signatureKey: string },
): Promise<void> {
  await commitWithEvents(deps, async (trx, record) => {
    if (!(await selectDevice(trx, session.userId, deviceId))) throw noSuchDevice();
    const set = await insertDeviceKeys(trx, { ...keys, deviceId, userId: session.userId, at: nowIso() });
    if (!set) throw deviceKeysSet();
    const contacts = await selectEncryptedContactIds(trx, session.userId);
    if (contacts.length > 0) {
      await record({
        type: 'device.added',
        recipients: contacts,
        data: { userId: String(session.userId), deviceId },
      });
    }
  });
}

/** Stores key packages for one of the caller's devices; returns how many one-time ones wait now. */
export async function uploadKeyPackages(
  db: Executor,
  session: Session,
  deviceId: string,
  input: { keyPackages: string[]; lastResort?: string | undefined },
): Promise<number> {
  return db.transaction(async (trx) => {
    if (!(await selectDevice(trx, session.userId, deviceId))) throw noSuchDevice();
    if (!(await selectDeviceKeys(trx, [deviceId])).has(deviceId)) throw deviceKeysMissing();
    const before = (await countKeyPackages(trx, [deviceId])).get(deviceId) ?? 0;
    if (before + input.keyPackages.length > MAX_KEY_PACKAGES_PER_DEVICE) {
      throw keyPackagesFull(
        `A device keeps at most ${MAX_KEY_PACKAGES_PER_DEVICE} key packages; this one has ${before}.`,
      );
    }
    await insertKeyPackages(trx, deviceId, input.keyPackages, input.lastResort, nowIso());
    return before + input.keyPackages.length;
  });
}

export interface ClaimedKeyPackage {
  userId: string;
  deviceId: string;
  keyPackage: string;
}

/**
 * One key package for every device with keys of each named user (the calling device excepted):
 * a one-time one, which no other claim will ever get, or the device's last-resort one when none
 * is left (a device with neither is skipped). A device whose one-time packages fall under
 * KEY_PACKAGES_LOW is told so — when it crosses the line, and when its last one goes — with
 * `key-packages.low` to its user.
 */
export async function claimKeyPackages(
  deps: Store,
  session: Session,
  userIds: readonly string[],
): Promise<ClaimedKeyPackage[]> {
  const ids = [...new Set(userIds.map(toId))];
  const live = new Set(await selectLiveUserIds(deps.db, ids));
  const unknown = [...new Set(userIds.filter((s) => !live.has(toId(s))))];
  if (unknown.length) {
    throw invalid(`Unknown user ids: ${unknown.join(', ')}.`, [
      { path: 'userIds', message: `unknown user ids: ${unknown.join(', ')}` },
    ]);
  }
  const devices = (await selectKeyedDevicesOf(deps.db, [...live])).filter(
    (d) => d.device_id !== session.deviceId,
  );
  return commitWithEvents(deps, async (trx, record) => {
    // Claims of one user's packages take turns (in user order, so several claims cannot deadlock):
    // the count after each take is then exact, and `key-packages.low` fires once per crossing. The
    // take itself is safe without it (takeKeyPackage).
    for (const userId of [...new Set(devices.map((d) => d.user_id))].sort((x, y) => x - y)) {
      await dialectOf(trx).lockUser(trx, userId);
    }
    const claimed: ClaimedKeyPackage[] = [];
    const low: NewEvent[] = [];
    for (const device of devices) {
      const oneTime = await takeKeyPackage(trx, device.device_id);
      const keyPackage = oneTime ?? (await selectLastResortPackage(trx, device.device_id));
      if (keyPackage === undefined) continue;
      claimed.push({ userId: String(device.user_id), deviceId: device.device_id, keyPackage });
      if (oneTime === undefined) continue;
      const left = (await countKeyPackages(trx, [device.device_id])).get(device.device_id) ?? 0;
      if (left === KEY_PACKAGES_LOW - 1 || left === 0) {
        low.push({
          type: 'key-packages.low',
          recipients: [device.user_id],
          data: { deviceId: device.device_id, keyPackagesLeft: left },
        });
      }
    }
    for (const event of low) await record(event);
    return claimed;
  });
}
