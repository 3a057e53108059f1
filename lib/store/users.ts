import type { Executor } from './db.ts';

export interface UserRow {
  id: number;
  username: string;
  display_name: string;
  avatar_url: string | null;
  password_hash: string;
  created_at: string;
  updated_at: string;
  presence: 'online' | 'offline';
  last_seen_at: string | null;
}

const COLUMNS = [
  'id',
  'username',
  'display_name',
  'avatar_url',
  'password_hash',
  'created_at',
  'updated_at',
  'presence',
  'last_seen_at',
];

export const usernameKey = (username: string): string => username.toLowerCase();

export async function insertUser(
  db: Executor,
  user: { username: string; displayName: string; avatarUrl: string | null; passwordHash: string; at: string },
): Promise<UserRow> {
  const [row] = await db('users')
    .insert({
      username: user.username,
      username_key: usernameKey(user.username),
      display_name: user.displayName,
      display_name_key: user.displayName.toLowerCase(),
      avatar_url: user.avatarUrl,
      password_hash: user.passwordHash,
      created_at: user.at,
      updated_at: user.at,
    })
    .returning(COLUMNS);
  return row as UserRow;
}

export async function selectUserById(db: Executor, id: number): Promise<UserRow | undefined> {
  return db('users').first(COLUMNS).where({ id }).whereNull('deleted_at');
}

export async function selectUserByUsername(db: Executor, username: string): Promise<UserRow | undefined> {
  return db('users')
    .first(COLUMNS)
    .where({ username_key: usernameKey(username) });
}

/** Live users among `ids`, for validating participant lists in one query. */
export async function selectUsersByIds(db: Executor, ids: readonly number[]): Promise<UserRow[]> {
  if (ids.length === 0) return [];
  return db('users').select(COLUMNS).whereIn('id', ids).whereNull('deleted_at');
}

/**
 * Live users among `ids`, kept live until the transaction ends: on PostgreSQL their rows are
 * share-locked, so an account deletion (which updates the row) waits for the membership being
 * made; SQLite runs one writer at a time and needs no lock (knex leaves the clause out there).
 */
export async function selectLiveUsersForMembership(
  trx: Executor,
  ids: readonly number[],
): Promise<{ id: number }[]> {
  if (ids.length === 0) return [];
  return trx('users').select('id').whereIn('id', ids).whereNull('deleted_at').forShare();
}

/**
 * Locks a user's row until commit (PostgreSQL; SQLite has one writer anyway). A membership being
 * made for the user share-locks the row as it checks the account (selectLiveUsersForMembership):
 * the two then run one after the other, never interleaved. FOR NO KEY UPDATE, not FOR UPDATE: rows
 * that refer to the user (a message they are sending) take FOR KEY SHARE, which this lets through —
 * their writer may hold a conversation lock this transaction waits for next.
 */
export async function lockUserRow(trx: Executor, id: number): Promise<void> {
  await trx('users').first('id').where({ id }).forNoKeyUpdate();
}

/** Users whose username or display name starts with `prefix`, by id, after `afterId`. */
export async function selectUsers(
  db: Executor,
  opts: { prefix: string | undefined; afterId: number; limit: number },
): Promise<UserRow[]> {
  const q = db('users').select(COLUMNS).whereNull('deleted_at').andWhere('id', '>', opts.afterId);
  if (opts.prefix) {
    const pattern = `${escapeLike(opts.prefix.toLowerCase())}%`;
    q.andWhere((w) =>
      w
        .whereRaw("username_key LIKE ? ESCAPE '\\'", [pattern])
        .orWhereRaw("display_name_key LIKE ? ESCAPE '\\'", [pattern]),
    );
  }
  return q.orderBy('id').limit(opts.limit);
}

export async function updateUserRow(
  db: Executor,
  id: number,
  patch: {
    username?: string;
    displayName?: string;
    avatarUrl?: string | null;
    passwordHash?: string;
    at: string;
  },
): Promise<UserRow> {
  const [row] = await db('users')
    .where({ id })
    .update({
      ...(patch.username !== undefined && {
        username: patch.username,
        username_key: usernameKey(patch.username),
      }),
      ...(patch.displayName !== undefined && {
        display_name: patch.displayName,
        display_name_key: patch.displayName.toLowerCase(),
      }),
      ...(patch.avatarUrl !== undefined && { avatar_url: patch.avatarUrl }),
      ...(patch.passwordHash !== undefined && { password_hash: patch.passwordHash }),
      updated_at: patch.at,
    })
    .returning(COLUMNS);
  return row as UserRow;
}

/** Keeps the row (their messages stay in others' history) but frees the username and drops the secret. */
export async function markUserDeleted(db: Executor, id: number, at: string): Promise<void> {
  await db('users')
    .where({ id })
    .update({ username_key: null, password_hash: '', avatar_url: null, deleted_at: at, updated_at: at });
  await db('avatars').where({ user_id: id }).delete();
}

export interface AvatarRow {
  content_type: string;
  bytes: Buffer;
  etag: string;
  updated_at: string;
}

export async function upsertAvatar(db: Executor, userId: number, avatar: AvatarRow): Promise<void> {
  await db('avatars')
    .insert({ user_id: userId, ...avatar })
    .onConflict('user_id')
    .merge();
}

export async function selectAvatar(db: Executor, userId: number): Promise<AvatarRow | undefined> {
  return db('avatars').first('content_type', 'bytes', 'etag', 'updated_at').where({ user_id: userId });
}

export async function deleteAvatar(db: Executor, userId: number): Promise<number> {
  return db('avatars').where({ user_id: userId }).delete();
}

const escapeLike = (s: string): string => s.replace(/[\\%_]/g, (c) => `\\${c}`);
