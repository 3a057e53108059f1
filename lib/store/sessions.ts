import type { Executor } from './db.ts';

export interface SessionRow {
  id: string;
  user_id: number;
  expires_at: string;
  /** The device the session belongs to (lib/chat/devices.ts); null only for sessions revoked before devices existed. */
  device_id: string | null;
}

export async function insertSession(
  db: Executor,
  session: SessionRow & { created_at: string },
): Promise<void> {
  await db('sessions').insert(session);
}

/** A session that is neither revoked nor expired, of a user that still exists. */
export async function selectLiveSession(
  db: Executor,
  id: string,
  nowIso: string,
): Promise<SessionRow | undefined> {
  return db('sessions')
    .first('sessions.id', 'sessions.user_id', 'sessions.expires_at', 'sessions.device_id')
    .join('users', 'users.id', 'sessions.user_id')
    .where('sessions.id', id)
    .whereNull('sessions.revoked_at')
    .where('sessions.expires_at', '>', nowIso)
    .whereNull('users.deleted_at');
}

export async function extendSession(db: Executor, id: string, expiresAt: string): Promise<void> {
  await db('sessions').where({ id }).update({ expires_at: expiresAt });
}

/** Revokes the given user's live sessions, except `keep`; returns the ids revoked. */
export async function revokeUserSessions(
  db: Executor,
  userId: number,
  at: string,
  keep?: string,
): Promise<string[]> {
  const q = db('sessions').select('id').where({ user_id: userId }).whereNull('revoked_at');
  if (keep) q.whereNot('id', keep);
  const ids = (await q).map((r: { id: string }) => r.id);
  if (ids.length) await db('sessions').whereIn('id', ids).update({ revoked_at: at });
  return ids;
}

export async function revokeSession(db: Executor, id: string, at: string): Promise<void> {
  await db('sessions').where({ id }).whereNull('revoked_at').update({ revoked_at: at });
}

/** Sessions revoked at or after `sinceIso`: what a node that missed bus messages must still close. */
export async function selectSessionsRevokedSince(db: Executor, sinceIso: string): Promise<string[]> {
  const rows = await db('sessions').select('id').where('revoked_at', '>=', sinceIso);
  return rows.map((r: { id: string }) => r.id);
}

/** Deletes sessions that expired or were revoked before `cutoffIso`; returns how many. */
export async function deleteSessionsEndedBefore(db: Executor, cutoffIso: string): Promise<number> {
  return db('sessions').where('expires_at', '<', cutoffIso).orWhere('revoked_at', '<', cutoffIso).delete();
}
