import { randomBytes } from 'node:crypto';
import { sealData, unsealData } from 'iron-session';
import type { Bus } from '../events/bus.ts';
import type { Db, Executor } from '../store/db.ts';
import {
  extendSession,
  insertSession,
  revokeSession,
  revokeUserSessions,
  selectLiveSession,
} from '../store/sessions.ts';
import { RecentSet } from '../util/recent-set.ts';

export const SESSION_COOKIE = 'parley_session';

export interface SessionKeys {
  secret: string;
  ttlMs: number;
  /**
   * How long a checked session is trusted without reading its row again. Revocations reach every
   * node's cache through the bus at once; this bounds how long a change made behind the API's back
   * (an operator's UPDATE) goes unseen.
   */
  trustMs: number;
}

export interface Session {
  id: string;
  userId: number;
  /**
   * The device this session belongs to; null for sessions revoked before devices existed, absent
   * where a session is rebuilt without it (then push treats the connection as the user's, not a
   * device's).
   */
  deviceId?: string | null;
  /** Set when this request slid the session's expiry forward: the cookie must follow (issue 12). */
  renewedUntil?: string;
}

// Both caches are bounded, so one-off logins can't grow memory, and they hold only tokens that
// unsealed (issued tokens are ~250 bytes): a rejected token is never remembered, so a flood of
// junk costs CPU, not memory. At most 50,000 × ~300 bytes.
const CACHE_LIMIT = 50_000;

// Revocations this node has heard of most recently. A lookup that read a session's row before its
// revoke committed must not let it back in once the revoke has been heard; lookups take
// milliseconds, so the last 10,000 revocations cover any lookup in flight.
const RECENT_REVOCATIONS = 10_000;

/**
 * Exactly the shape iron-session issues with `ttl: 0`: `Fe26.2*1*salt*iv*ciphertext**hmacSalt*hmac~2`.
 * iron-session reads the `~2` suffix leniently (`~2x` parses as version 2), so anything but the
 * exact format is refused before unsealing.
 */
const TOKEN_FORMAT =
  /^Fe26\.2\*1\*[0-9a-f]{64}\*[A-Za-z0-9_-]{22}\*[A-Za-z0-9_-]+\*\*[0-9a-f]{64}\*[A-Za-z0-9_-]{43}~2$/;

interface CheckedSession {
  userId: number;
  deviceId: string | null;
  expiresAtMs: number;
  checkedAtMs: number;
}

/**
 * Sessions: a row in `sessions` (revocable, sliding expiry) whose id is sealed into the token.
 * Every request authenticates, so this node remembers the sessions it has checked: a request with
 * a known token costs no database round trip. The bus's `revoke` messages (logout, password
 * change, account deletion — on any node) drop sessions from the cache as they drop their streams.
 */
export class Sessions {
  /** token → session id; unsealing is pure crypto on an immutable token. */
  private readonly unsealed = new Map<string, string>();
  private readonly checked = new Map<string, CheckedSession>();
  private readonly recentlyRevoked = new RecentSet<string>(RECENT_REVOCATIONS);

  constructor(
    private readonly deps: { db: Db; bus: Bus },
    private readonly keys: SessionKeys,
  ) {
    deps.bus.subscribe((message) => {
      if (message.kind !== 'revoke') return;
      for (const id of message.sessionIds) {
        this.checked.delete(id);
        this.recentlyRevoked.add(id);
      }
    });
  }

  /** Creates a session row and seals its id: the sealed value is both the cookie and the bearer token. */
  async create(
    db: Executor,
    userId: number,
    deviceId: string,
  ): Promise<{ token: string; expiresAt: string; sessionId: string }> {
    const id = randomBytes(16).toString('base64url');
    const now = Date.now();
    const expiresAt = new Date(now + this.keys.ttlMs).toISOString();
    await insertSession(db, {
      id,
      user_id: userId,
      device_id: deviceId,
      expires_at: expiresAt,
      created_at: new Date(now).toISOString(),
    });
    // ttl 0: the seal itself never expires; the sessions table decides, so revocation is immediate.
    const token = await sealData({ sid: id }, { password: this.keys.secret, ttl: 0 });
    return { token, expiresAt, sessionId: id };
  }

  /** The live session a token names, sliding its expiry forward once half of it has passed. */
  async authenticate(token: string): Promise<Session | null> {
    const sid = await this.sessionIdOf(token);
    if (!sid) return null;
    const now = Date.now();
    let known = this.checked.get(sid);
    if (!known || now - known.checkedAtMs >= this.keys.trustMs || known.expiresAtMs <= now) {
      const row = await selectLiveSession(this.deps.db, sid, new Date(now).toISOString());
      // A revoke heard while the row was read wins, whatever the row said.
      if (!row || this.recentlyRevoked.has(sid)) {
        this.checked.delete(sid);
        return null;
      }
      known = {
        userId: row.user_id,
        deviceId: row.device_id,
        expiresAtMs: Date.parse(row.expires_at),
        checkedAtMs: now,
      };
      remember(this.checked, sid, known);
    }
    if (known.expiresAtMs - now < this.keys.ttlMs / 2) {
      known.expiresAtMs = now + this.keys.ttlMs;
      const renewedUntil = new Date(known.expiresAtMs).toISOString();
      await extendSession(this.deps.db, sid, renewedUntil);
      return { id: sid, userId: known.userId, deviceId: known.deviceId, renewedUntil };
    }
    return { id: sid, userId: known.userId, deviceId: known.deviceId };
  }

  async end(sessionId: string, at: string): Promise<void> {
    await revokeSession(this.deps.db, sessionId, at);
    this.deps.bus.publish({ kind: 'revoke', sessionIds: [sessionId] });
  }

  /**
   * Revokes a user's sessions (all, or all but `keep`) in the caller's transaction. Returns the
   * announcement, for the caller to make once the transaction has committed: it closes their
   * streams and forgets the sessions on every node.
   */
  async endAllOf(trx: Executor, userId: number, at: string, keep?: string): Promise<() => void> {
    const ids = await revokeUserSessions(trx, userId, at, keep);
    return () => {
      if (ids.length) this.deps.bus.publish({ kind: 'revoke', sessionIds: ids });
    };
  }

  /** How many tokens this node remembers as unsealed (the specs watch it stay bounded). */
  cachedTokens(): number {
    return this.unsealed.size;
  }

  private async sessionIdOf(token: string): Promise<string | null> {
    // Only tokens of the right format are ever remembered: a known one needs no second look.
    const hit = this.unsealed.get(token);
    if (hit !== undefined) return hit;
    if (token.length > 2048 || !TOKEN_FORMAT.test(token)) return null;
    let sid: string | null = null;
    try {
      const data = await unsealData<{ sid?: unknown }>(token, { password: this.keys.secret, ttl: 0 });
      sid = typeof data.sid === 'string' ? data.sid : null;
    } catch {
      sid = null;
    }
    if (sid) remember(this.unsealed, token, sid);
    return sid;
  }
}

/** Adds to a bounded cache, forgetting the oldest entry when full. */
function remember<V>(cache: Map<string, V>, key: string, value: V): void {
  if (cache.size >= CACHE_LIMIT && !cache.has(key)) cache.delete(cache.keys().next().value as string);
  cache.set(key, value);
}
