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

export async function holdPresence(db: Executor, nodeId: string, userId: number): Promise<void> {
  await db('presence_holds')
    .insert({ node_id: nodeId, user_id: userId })
    .onConflict(['node_id', 'user_id'])
    .ignore();
}

export async function releasePresence(db: Executor, nodeId: string, userId: number): Promise<void> {
  await db('presence_holds').where({ node_id: nodeId, user_id: userId }).delete();
}

/** How many nodes seen since `aliveSince` hold this user. */
export async function countLiveHolds(db: Executor, userId: number, aliveSince: string): Promise<number> {
  const row = await db('presence_holds')
    .join('nodes', 'nodes.id', 'presence_holds.node_id')
    .where('presence_holds.user_id', userId)
    .andWhere('nodes.seen_at', '>=', aliveSince)
    .count({ n: '*' })
    .first();
  return Number(row?.n ?? 0);
}

/** Users shown online whom no live node holds any more (their node stopped or died). */
export async function selectOrphanedOnlineUserIds(db: Executor, aliveSince: string): Promise<number[]> {
  const rows = await db('users')
    .select('id')
    .where({ presence: 'online' })
    .whereNull('deleted_at')
    .whereNotExists((q) =>
      q
        .select(db.raw('1'))
        .from('presence_holds')
        .join('nodes', 'nodes.id', 'presence_holds.node_id')
        .whereRaw('presence_holds.user_id = users.id')
        .andWhere('nodes.seen_at', '>=', aliveSince),
    );
  return rows.map((r: { id: number }) => Number(r.id));
}

export async function touchNode(db: Executor, nodeId: string, at: string): Promise<void> {
  await db('nodes').insert({ id: nodeId, seen_at: at }).onConflict('id').merge({ seen_at: at });
}

/** A node leaving: its holds go with it; rows of nodes long dead are swept along. */
export async function removeNode(db: Executor, nodeId: string, deadBefore: string): Promise<void> {
  const gone = db('nodes').select('id').where({ id: nodeId }).orWhere('seen_at', '<', deadBefore);
  await db('presence_holds').whereIn('node_id', gone.clone()).delete();
  await db('nodes').whereIn('id', gone).delete();
}
