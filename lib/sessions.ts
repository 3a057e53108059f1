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
}

export interface Session {
  id: string;
  userId: number;
}

/** Creates a session row and seals its id: the sealed value is both the cookie and the bearer token. */
export async function createSession(
  db: Executor,
  keys: SessionKeys,
  userId: number,
): Promise<{ token: string; expiresAt: string; sessionId: string }> {
  const id = randomBytes(16).toString('base64url');
  const now = Date.now();
  const expiresAt = new Date(now + keys.ttlMs).toISOString();
  await insertSession(db, {
    id,
    user_id: userId,
    expires_at: expiresAt,
    created_at: new Date(now).toISOString(),
  });
  // ttl 0: the seal itself never expires; the sessions table decides, so revocation is immediate.
  const token = await sealData({ sid: id }, { password: keys.secret, ttl: 0 });
  return { token, expiresAt, sessionId: id };
}

// Unsealing is pure crypto on an immutable token, so remembering results is safe; bounded so a
// flood of forged tokens can't grow memory.
const UNSEAL_CACHE_LIMIT = 10_000;
const unsealed = new Map<string, string | null>();

async function sessionIdOf(token: string, secret: string): Promise<string | null> {
  const hit = unsealed.get(token);
  if (hit !== undefined) return hit;
  let sid: string | null = null;
  try {
    const data = await unsealData<{ sid?: unknown }>(token, { password: secret, ttl: 0 });
    sid = typeof data.sid === 'string' ? data.sid : null;
  } catch {
    sid = null;
  }
  if (unsealed.size >= UNSEAL_CACHE_LIMIT) unsealed.delete(unsealed.keys().next().value as string);
  unsealed.set(token, sid);
  return sid;
}

/** The live session a token names, sliding its expiry forward once half of it has passed. */
export async function authenticateToken(db: Db, keys: SessionKeys, token: string): Promise<Session | null> {
  if (token.length > 2048) return null;
  const sid = await sessionIdOf(token, keys.secret);
  if (!sid) return null;
  const now = Date.now();
  const row = await selectLiveSession(db, sid, new Date(now).toISOString());
  if (!row) return null;
  if (Date.parse(row.expires_at) - now < keys.ttlMs / 2) {
    await extendSession(db, sid, new Date(now + keys.ttlMs).toISOString());
  }
  return { id: row.id, userId: row.user_id };
}

export async function endSession(deps: { db: Db; bus: Bus }, sessionId: string, at: string): Promise<void> {
  await revokeSession(deps.db, sessionId, at);
  deps.bus.publish({ kind: 'revoke', sessionIds: [sessionId] });
}

/** Revokes a user's sessions (all, or all but `keep`) and closes their streams on every node. */
export async function endUserSessions(
  deps: { bus: Bus },
  trx: Executor,
  userId: number,
  at: string,
  keep?: string,
): Promise<() => void> {
  const ids = await revokeUserSessions(trx, userId, at, keep);
  // Returned so the caller publishes after its transaction commits.
  return () => {
    if (ids.length) deps.bus.publish({ kind: 'revoke', sessionIds: ids });
  };
}
