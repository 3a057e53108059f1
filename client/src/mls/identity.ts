import {
  type CiphersuiteImpl,
  type Credential,
  defaultCapabilities,
  defaultLifetime,
  generateKeyPackageWithKey,
  type KeyPackage,
  type PrivateKeyPackage,
  type Welcome,
} from 'ts-mls';
import { encodeCredential } from 'ts-mls/credential.js';
import { makeKeyPackageRef } from 'ts-mls/keyPackage.js';
import { toBase64, toHex, utf8 } from './bytes.ts';
import { cipherSuite } from './suite.ts';
import { encodeKeyPackageMessage } from './wire.ts';

/** Who a leaf of a group is: a Parley user's device. */
export interface DeviceName {
  userId: string;
  deviceId: string;
}

/**
 * A device's long-term MLS identity: a basic credential naming the Parley user and device, and the
 * Ed25519 key pair that signs everything the device sends. Published once (`PUT /devices/{id}/keys`);
 * a new key means a new device.
 */
export interface DeviceIdentity extends DeviceName {
  credential: Credential;
  signatureKeys: { publicKey: Uint8Array; signKey: Uint8Array };
}

// A basic credential's identity is `<userId>:<deviceId>`: Parley ids contain no colon.
export const credentialIdentity = (name: DeviceName): Uint8Array =>
  utf8.encode(`${name.userId}:${name.deviceId}`);

/** The user and device a credential names, or undefined for one that is not Parley's. */
export function nameOfCredential(credential: Credential): DeviceName | undefined {
  if (credential.credentialType !== 'basic') return undefined;
  let text: string;
  try {
    text = utf8.decode(credential.identity);
  } catch {
    return undefined;
  }
  const [userId, deviceId, ...rest] = text.split(':');
  return userId && deviceId && rest.length === 0 ? { userId, deviceId } : undefined;
}

export async function createIdentity(name: DeviceName): Promise<DeviceIdentity> {
  const cs = await cipherSuite();
  return {
    ...name,
    credential: { credentialType: 'basic', identity: credentialIdentity(name) },
    signatureKeys: await cs.signature.keygen(),
  };
}

/** The public half, as `PUT /devices/{id}/keys` takes it (all base64). */
export const publicKeysOf = (identity: DeviceIdentity) => ({
  credential: toBase64(encodeCredential(identity.credential)),
  signatureKey: toBase64(identity.signatureKeys.publicKey),
});

interface HeldKeyPackage {
  publicPackage: KeyPackage;
  privatePackage: PrivateKeyPackage;
  lastResort: boolean;
}

/**
 * The private halves of the key packages a device has handed to the server's directory, by
 * reference (RFC 9420 §5.2), so a Welcome finds the one it was made for. A one-time package is
 * forgotten once used; the last-resort one is kept for as long as it is the device's.
 */
export class KeyPackageStore {
  readonly #held = new Map<string, HeldKeyPackage>();

  constructor(
    private readonly identity: DeviceIdentity,
    private readonly cs: CiphersuiteImpl,
  ) {}

  static async for(identity: DeviceIdentity): Promise<KeyPackageStore> {
    return new KeyPackageStore(identity, await cipherSuite());
  }

  /** How many packages (one-time and last-resort) the store holds private keys for. */
  get size(): number {
    return this.#held.size;
  }

  /** Makes `count` new key packages; returns them as base64 MLSMessages, ready to upload. */
  async generate(count: number, options: { lastResort?: boolean } = {}): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < count; i++) {
      const made = await generateKeyPackageWithKey(
        this.identity.credential,
        defaultCapabilities(),
        defaultLifetime,
        [],
        this.identity.signatureKeys,
        this.cs,
      );
      const ref = toHex(await makeKeyPackageRef(made.publicPackage, this.cs.hash));
      this.#held.set(ref, { ...made, lastResort: options.lastResort === true });
      out.push(encodeKeyPackageMessage(made.publicPackage));
    }
    return out;
  }

  /**
   * The key package a Welcome was encrypted to, if it is one of ours; a one-time one is removed
   * (RFC 9420 §16.8: a key package is used once). Undefined when the Welcome is for other devices.
   */
  takeFor(welcome: Welcome): HeldKeyPackage | undefined {
    for (const secret of welcome.secrets) {
      const ref = toHex(secret.newMember);
      const held = this.#held.get(ref);
      if (!held) continue;
      if (!held.lastResort) this.#held.delete(ref);
      return held;
    }
    return undefined;
  }

  /** A fresh package for the device's own use (creating a group, joining by external commit). */
  async fresh(): Promise<{ publicPackage: KeyPackage; privatePackage: PrivateKeyPackage }> {
    return generateKeyPackageWithKey(
      this.identity.credential,
      defaultCapabilities(),
      defaultLifetime,
      [],
      this.identity.signatureKeys,
      this.cs,
    );
  }
}
