import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { Store } from '../events/log.ts';
import { commitWithEvents } from '../events/log.ts';
import {
  forbidden,
  invalid,
  invalidCredentials,
  malformedCursor,
  noSuchUser,
  notFound,
  userNamed,
  usernameTaken,
  wrongPassword,
} from '../http/problems.ts';
import type { User } from '../http/schemas.ts';
import type { LoginThrottle } from '../security/login-throttle.ts';
import { hashForUnknownUser, hashPassword, verifyPassword } from '../security/passwords.ts';
import type { Session, Sessions } from '../security/sessions.ts';
import { endMembershipsOf, selectContactIds, selectContactsAmong } from '../store/conversations.ts';
import { isUniqueViolation } from '../store/db.ts';
import { deleteDevicesOf } from '../store/devices.ts';
import { dialectOf } from '../store/dialect.ts';
import { selectCurrentConversationIds } from '../store/memberships.ts';
import { deleteMutesOf } from '../store/push.ts';
import {
  type AvatarRow,
  deleteAvatar,
  insertUser,
  lockUserRow,
  markUserDeleted,
  selectAvatar,
  selectUserById,
  selectUserByUsername,
  selectUsers,
  type UserRow,
  updateUserRow,
  upsertAvatar,
} from '../store/users.ts';
import { nowIso } from '../util/time.ts';
import { checkAvatarImage } from './avatar-image.ts';
import { deviceForLogin } from './devices.ts';
import { handOverOwnership } from './participants.ts';

/** What changes to accounts need besides the store: they end sessions. */
type WithSessions = Store & { sessions: Sessions };

export type UserJson = z.output<typeof User>;

export const presentUser = (row: UserRow): UserJson => ({
  id: String(row.id),
  username: row.username,
  displayName: row.display_name,
  avatarUrl: row.avatar_url,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  presence: row.presence,
  lastSeenAt: row.last_seen_at,
});

export async function register(
  deps: Store,
  input: {
    username: string;
    password: string;
    displayName?: string | undefined;
    avatarUrl?: string | undefined;
  },
): Promise<UserJson> {
  const passwordHash = await hashPassword(input.password);
  try {
    const row = await insertUser(deps.db, {
      username: input.username,
      displayName: input.displayName ?? input.username,
      avatarUrl: input.avatarUrl ?? null,
      passwordHash,
      at: nowIso(),
    });
    return presentUser(row);
  } catch (err) {
    if (isUniqueViolation(err)) throw usernameTaken(input.username);
    throw err;
  }
}

export async function login(
  deps: WithSessions & { loginThrottle: LoginThrottle },
  input: {
    username: string;
    password: string;
    device?: { id?: string | undefined; name?: string | undefined } | undefined;
  },
  clientIp: string,
): Promise<{ token: string; expiresAt: string; deviceId: string; user: UserJson }> {
  // Counted before the hash is checked, so parallel guesses cannot all pass the limit.
  await deps.loginThrottle.attempt(input.username, clientIp);
  const row = await selectUserByUsername(deps.db, input.username);
  // Verify against a dummy hash for unknown users, so both failures cost the same time.
  const ok = await verifyPassword(input.password, row?.password_hash || (await hashForUnknownUser()));
  if (!row || !ok) throw invalidCredentials();
  await deps.loginThrottle.succeeded(input.username, clientIp);
  const deviceId = await deviceForLogin(deps, row.id, input.device);
  const { token, expiresAt } = await deps.sessions.create(deps.db, row.id, deviceId);
  return { token, expiresAt, deviceId, user: presentUser(row) };
}

/**
 * Users as `viewerId` may see them: presence and lastSeenAt only of people who share a current
 * conversation with the viewer, and of the viewer; null for everyone else (issue 12).
 */
async function presentUsersTo(deps: Store, viewerId: number, rows: UserRow[]): Promise<UserJson[]> {
  const contacts = await selectContactsAmong(
    deps.db,
    viewerId,
    rows.map((r) => r.id),
  );
  return rows.map((row) => {
    const user = presentUser(row);
    return contacts.has(row.id) ? user : { ...user, presence: null, lastSeenAt: null };
  });
}

export async function getUser(deps: Store, viewerId: number, id: number): Promise<UserJson> {
  const row = await selectUserById(deps.db, id);
  if (!row) throw noSuchUser(id);
  const [user] = await presentUsersTo(deps, viewerId, [row]);
  return user!;
}

// Page cursors are opaque to clients; inside they are the last id of the page.
const encodePageCursor = (id: number): string => Buffer.from(`p${id}`).toString('base64url');
export function decodePageCursor(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const match = /^p(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw malformedCursor('cursor');
  return Number(match[1]);
}

export async function listUsers(
  deps: Store,
  viewerId: number,
  opts: { q?: string | undefined; limit: number; cursor?: string | undefined },
): Promise<{ users: UserJson[]; nextCursor: string | null }> {
  const afterId = decodePageCursor(opts.cursor);
  const rows = await selectUsers(deps.db, { prefix: opts.q, afterId, limit: opts.limit + 1 });
  const page = rows.slice(0, opts.limit);
  const last = page.at(-1);
  return {
    users: await presentUsersTo(deps, viewerId, page),
    nextCursor: rows.length > opts.limit && last ? encodePageCursor(last.id) : null,
  };
}

function assertSelf(session: Session, userId: number): void {
  if (session.userId !== userId) throw forbidden('You can only change your own account.');
}

async function existingUser(deps: Store, id: number): Promise<UserRow> {
  const row = await selectUserById(deps.db, id);
  if (!row) throw noSuchUser(id);
  return row;
}

/** Tells the user's own devices and everyone who shares a conversation with them. */
async function announceUser(trx: Parameters<typeof selectContactIds>[0], row: UserRow) {
  return {
    type: 'user.updated' as const,
    recipients: await selectContactIds(trx, row.id),
    data: presentUser(row),
  };
}

export async function updateUser(
  deps: WithSessions & { loginThrottle: LoginThrottle },
  session: Session,
  id: number,
  patch: {
    username?: string | undefined;
    displayName?: string | undefined;
    avatarUrl?: string | null | undefined;
    password?: string | undefined;
    currentPassword?: string | undefined;
  },
  clientIp: string,
): Promise<UserJson> {
  const current = await existingUser(deps, id);
  assertSelf(session, id);
  let passwordHash: string | undefined;
  if (patch.password !== undefined) {
    if (patch.currentPassword === undefined) {
      throw invalid('Changing the password needs currentPassword.', [
        { path: 'currentPassword', message: 'is required to change the password' },
      ]);
    }
    // The same throttle as logins: a stolen token must not be a way to guess the password.
    await deps.loginThrottle.attempt(current.username, clientIp);
    if (!(await verifyPassword(patch.currentPassword, current.password_hash))) {
      throw wrongPassword();
    }
    await deps.loginThrottle.succeeded(current.username, clientIp);
    passwordHash = await hashPassword(patch.password);
  }
  const at = nowIso();
  let announceRevocation = () => {};
  try {
    const row = await commitWithEvents(deps, async (trx, record) => {
      const updated = await updateUserRow(trx, id, {
        username: patch.username,
        displayName: patch.displayName,
        avatarUrl: patch.avatarUrl,
        passwordHash,
        at,
      });
      if (passwordHash) announceRevocation = await deps.sessions.endAllOf(trx, id, at, session.id);
      await record(await announceUser(trx, updated));
      return updated;
    });
    announceRevocation();
    return presentUser(row);
  } catch (err) {
    if (isUniqueViolation(err)) throw usernameTaken(patch.username ?? '');
    throw err;
  }
}

export async function deleteUser(deps: WithSessions, session: Session, id: number): Promise<void> {
  await existingUser(deps, id);
  assertSelf(session, id);
  const at = nowIso();
  const announceRevocation = await commitWithEvents(deps, async (trx, record) => {
    // First the account's row: a membership being made for this user (which share-locks it as it
    // checks the account) commits before the memberships are read below, or sees the account deleted.
    await lockUserRow(trx, id);
    // Every membership change takes its conversation's lock, before the first write (as
    // commitWithEvents does): an owner leaving at the same moment is then seen, not raced.
    const conversationIds = await selectCurrentConversationIds(trx, id);
    await dialectOf(trx).lockConversations(trx, conversationIds);
    const recipients = await selectContactIds(trx, id);
    const revoke = await deps.sessions.endAllOf(trx, id, at);
    await record({ type: 'user.deleted', recipients, data: { userId: String(id) } });
    await endMembershipsOf(trx, id, record);
    // A group whose last owner this was gets its longest-standing member as owner.
    await handOverOwnership(trx, record, conversationIds, id);
    await markUserDeleted(trx, id, at);
    // Nothing is pushed to a deleted account: its devices, subscriptions and owed notifications go.
    await deleteDevicesOf(trx, id);
    await deleteMutesOf(trx, id);
    return revoke;
  });
  announceRevocation();
}

export const avatarPath = (userId: number, etag: string) => `/users/${userId}/avatar?v=${etag.slice(0, 12)}`;

export async function setAvatar(deps: Store, session: Session, id: number, bytes: Buffer): Promise<UserJson> {
  await existingUser(deps, id);
  assertSelf(session, id);
  // Recognised by parsing the bytes whole, never by a name or a declared type.
  const contentType = checkAvatarImage(bytes);
  const etag = createHash('sha256').update(bytes).digest('base64url').slice(0, 27);
  const at = nowIso();
  const row = await commitWithEvents(deps, async (trx, record) => {
    await upsertAvatar(trx, id, { content_type: contentType, bytes, etag, updated_at: at });
    const updated = await updateUserRow(trx, id, { avatarUrl: avatarPath(id, etag), at });
    await record(await announceUser(trx, updated));
    return updated;
  });
  return presentUser(row);
}

export async function getAvatar(deps: Store, id: number): Promise<AvatarRow> {
  const avatar = (await selectUserById(deps.db, id)) && (await selectAvatar(deps.db, id));
  if (!avatar) throw notFound(`${userNamed(id)} has no uploaded avatar.`);
  return avatar;
}

export async function removeAvatar(deps: Store, session: Session, id: number): Promise<void> {
  await existingUser(deps, id);
  assertSelf(session, id);
  const at = nowIso();
  await commitWithEvents(deps, async (trx, record) => {
    if ((await deleteAvatar(trx, id)) === 0) throw notFound(`${userNamed(id)} has no uploaded avatar.`);
    const updated = await updateUserRow(trx, id, { avatarUrl: null, at });
    await record(await announceUser(trx, updated));
  });
}
