import { randomBytes } from 'node:crypto';
import { sealData, unsealData } from 'iron-session';
import type { Bus } from './events/bus.ts';
import type { Db, Executor } from './store/db.ts';
import {
  extendSession,
  insertSession,
  revokeSession,
  revokeUserSessions,
  selectLiveSession,
} from './store/sessions.ts';

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
}

// Both caches are bounded, so a flood of forged tokens or one-off logins can't grow memory.
const CACHE_LIMIT = 50_000;

interface CheckedSession {
  userId: number;
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
  private readonly unsealed = new Map<string, string | null>();
  private readonly checked = new Map<string, CheckedSession>();

  constructor(
    private readonly deps: { db: Db; bus: Bus },
    private readonly keys: SessionKeys,
  ) {
    deps.bus.subscribe((message) => {
      if (message.kind === 'revoke') for (const id of message.sessionIds) this.checked.delete(id);
    });
  }

  /** Creates a session row and seals its id: the sealed value is both the cookie and the bearer token. */
  async create(
    db: Executor,
    userId: number,
  ): Promise<{ token: string; expiresAt: string; sessionId: string }> {
    const id = randomBytes(16).toString('base64url');
    const now = Date.now();
    const expiresAt = new Date(now + this.keys.ttlMs).toISOString();
    await insertSession(db, {
      id,
      user_id: userId,
      expires_at: expiresAt,
      created_at: new Date(now).toISOString(),
    });
    // ttl 0: the seal itself never expires; the sessions table decides, so revocation is immediate.
    const token = await sealData({ sid: id }, { password: this.keys.secret, ttl: 0 });
    return { token, expiresAt, sessionId: id };
  }

  /** The live session a token names, sliding its expiry forward once half of it has passed. */
  async authenticate(token: string): Promise<Session | null> {
    if (token.length > 2048) return null;
    const sid = await this.sessionIdOf(token);
    if (!sid) return null;
    const now = Date.now();
    let known = this.checked.get(sid);
    if (!known || now - known.checkedAtMs >= this.keys.trustMs || known.expiresAtMs <= now) {
      const row = await selectLiveSession(this.deps.db, sid, new Date(now).toISOString());
      if (!row) {
        this.checked.delete(sid);
        return null;
      }
      known = { userId: row.user_id, expiresAtMs: Date.parse(row.expires_at), checkedAtMs: now };
      remember(this.checked, sid, known);
    }
    if (known.expiresAtMs - now < this.keys.ttlMs / 2) {
      known.expiresAtMs = now + this.keys.ttlMs;
      await extendSession(this.deps.db, sid, new Date(known.expiresAtMs).toISOString());
    }
    return { id: sid, userId: known.userId };
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

  private async sessionIdOf(token: string): Promise<string | null> {
    const hit = this.unsealed.get(token);
    if (hit !== undefined) return hit;
    let sid: string | null = null;
    try {
      const data = await unsealData<{ sid?: unknown }>(token, { password: this.keys.secret, ttl: 0 });
      sid = typeof data.sid === 'string' ? data.sid : null;
    } catch {
      sid = null;
    }
    remember(this.unsealed, token, sid);
    return sid;
  }
}

/** Adds to a bounded cache, forgetting the oldest entry when full. */
function remember<V>(cache: Map<string, V>, key: string, value: V): void {
  if (cache.size >= CACHE_LIMIT && !cache.has(key)) cache.delete(cache.keys().next().value as string);
  cache.set(key, value);
}
