import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { Api, type TestUser } from '../helpers/client.ts';

/**
 * Server-level helpers for the MLS Delivery Service specs: the server never parses MLS, so random
 * bytes stand in for key packages, commits, welcomes and ciphertexts (client/ proves real MLS).
 */
export const blob = (bytes = 64): string => randomBytes(bytes).toString('base64');

export interface TestDevice {
  user: TestUser;
  deviceId: string;
  token: string;
  api: Api;
}

/** Logs `user` in on a new device. */
export async function newDevice(url: string, user: TestUser, name = 'spec device'): Promise<TestDevice> {
  const res = await new Api(url).post('/login', {
    username: user.username,
    password: user.password,
    device: { name },
  });
  expect(res.status, res.text).to.equal(200);
  return { user, deviceId: res.body.deviceId, token: res.body.token, api: new Api(url, res.body.token) };
}

/** A new encrypted group ("secret") of `owner` with `members`, as created: at epoch 0; returns its id. */
export async function encryptedGroup(owner: TestUser, members: readonly TestUser[]): Promise<string> {
  const res = await owner.api.post('/conversations', {
    participantIds: members.map((m) => m.id),
    title: 'secret',
    encrypted: true,
  });
  expect(res.status, res.text).to.equal(201);
  return res.body.id;
}

/** A new device of `user` with keys published and `packages` one-time key packages (and a last-resort one). */
export async function keyedDevice(
  url: string,
  user: TestUser,
  packages = 5,
): Promise<TestDevice & { keyPackages: string[]; lastResort: string }> {
  const device = await newDevice(url, user);
  const keys = await device.api.put(`/devices/${device.deviceId}/keys`, {
    cipherSuite: 1,
    credential: blob(40),
    signatureKey: blob(32),
  });
  expect(keys.status, keys.text).to.equal(200);
  const keyPackages = Array.from({ length: packages }, () => blob(300));
  const lastResort = blob(300);
  const up = await device.api.post(`/devices/${device.deviceId}/key-packages`, { keyPackages, lastResort });
  expect(up.status, up.text).to.equal(200);
  expect(up.body.keyPackagesLeft).to.equal(packages);
  return { ...device, keyPackages, lastResort };
}
