import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import webpush from 'web-push';
import { type Config, ConfigError } from '../config.ts';

export interface VapidKeys {
  publicKey: string;
  privateKey: string;
  subject: string;
}

/**
 * The VAPID key pair (RFC 8292) that signs every Web Push request. Without VAPID_PUBLIC_KEY and
 * VAPID_PRIVATE_KEY, a pair is generated on first start and kept in the data folder — like the
 * session secret — because browsers bind each subscription to the public key it was made with:
 * a new key would orphan every subscription.
 */
export function resolveVapidKeys(config: Config): { keys: VapidKeys; source: 'env' | 'file' | 'generated' } {
  const { vapidPublicKey, vapidPrivateKey, vapidSubject: subject } = config.push;
  if (vapidPublicKey && vapidPrivateKey) {
    return { keys: { publicKey: vapidPublicKey, privateKey: vapidPrivateKey, subject }, source: 'env' };
  }
  if (vapidPublicKey || vapidPrivateKey) {
    throw new ConfigError('invalid configuration:\n  VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY go together');
  }
  const file = join(config.dataDir, 'vapid-keys.json');
  try {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Partial<VapidKeys>;
    if (stored.publicKey && stored.privateKey) {
      return {
        keys: { publicKey: stored.publicKey, privateKey: stored.privateKey, subject },
        source: 'file',
      };
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const generated = webpush.generateVAPIDKeys();
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(generated)}\n`, { mode: 0o600 });
  return { keys: { ...generated, subject }, source: 'generated' };
}
