import webpush from 'web-push';
import type { VapidKeys } from './vapid.ts';

// A VAPID JWT is signed to last this long (RFC 8292 allows up to 24 h) and reused for a fraction of it.
const VAPID_JWT_SECONDS = 12 * 3600;
const VAPID_REUSE_MS = 3_600_000;
// Push services whose JWT is kept at once: a handful in practice (FCM, Mozilla, Apple, a gateway).
const VAPID_CACHE_LIMIT = 1000;

/**
 * VAPID Authorization headers (RFC 8292), signed by the `web-push` library once per push service
 * (the JWT's audience, the endpoint's origin) and reused for an hour, in each push worker (see
 * push-worker.js): signing one per push would
 * be most of a push's CPU (an ES256 signature and a key conversion each time), and a push service
 * accepts the same JWT until it expires.
 */
export class VapidHeaders {
  private readonly cache = new Map<string, { header: string; until: number }>();

  constructor(private readonly keys: VapidKeys) {}

  for(endpoint: string): string {
    const audience = new URL(endpoint).origin;
    const now = Date.now();
    const kept = this.cache.get(audience);
    if (kept && kept.until > now) return kept.header;
    const { Authorization } = webpush.getVapidHeaders(
      audience,
      this.keys.subject,
      this.keys.publicKey,
      this.keys.privateKey,
      'aes128gcm',
      Math.floor(now / 1000) + VAPID_JWT_SECONDS,
    );
    if (this.cache.size >= VAPID_CACHE_LIMIT) this.cache.clear();
    this.cache.set(audience, { header: Authorization, until: now + VAPID_REUSE_MS });
    return Authorization;
  }
}
