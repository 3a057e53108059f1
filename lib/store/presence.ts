import type { Executor } from './db.ts';

/** Records a presence transition; false when the user no longer exists. */
export async function updatePresence(
  db: Executor,
  userId: number,
  presence: 'online' | 'offline',
  lastSeenAt: string,
): Promise<boolean> {
  const updated = await db('users')
    .where({ id: userId })
    .whereNull('deleted_at')
    .update({ presence, last_seen_at: lastSeenAt });
  return Number(updated) > 0;
}

export async function selectOnlineUserIds(db: Executor): Promise<number[]> {
  const rows = await db('users').select('id').where({ presence: 'online' }).whereNull('deleted_at');
  return rows.map((r: { id: number }) => Number(r.id));
}
