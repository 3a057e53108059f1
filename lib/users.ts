import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { Deps } from './deps.ts';
import {
  badRequest,
  conflict,
  forbidden,
  invalid,
  invalidCredentials,
  isUniqueViolation,
  notFound,
  unsupportedMediaType,
} from './errors.ts';
import { commitWithEvents } from './events/log.ts';
import { handOverOwnership } from './membership.ts';
import { hashForUnknownUser, hashPassword, verifyPassword } from './passwords.ts';
import type { User } from './schemas.ts';
import type { Session } from './sessions.ts';
import { endMembershipsOf, selectContactIds } from './store/conversations.ts';
import { selectCurrentConversationIds } from './store/memberships.ts';
import {
  type AvatarRow,
  deleteAvatar,
  insertUser,
  markUserDeleted,
  selectAvatar,
  selectUserById,
  selectUserByUsername,
  selectUsers,
  type UserRow,
  updateUserRow,
  upsertAvatar,
} from './store/users.ts';
import { nowIso } from './time.ts';

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
  deps: Deps,
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
    if (isUniqueViolation(err)) throw conflict(`The username "${input.username}" is taken.`);
    throw err;
  }
}

export async function login(
  deps: Deps,
  input: { username: string; password: string },
  clientIp: string,
): Promise<{ token: string; expiresAt: string; user: UserJson }> {
  await deps.loginThrottle.check(input.username, clientIp);
  const row = await selectUserByUsername(deps.db, input.username);
  // Verify against a dummy hash for unknown users, so both failures cost the same time.
  const ok = await verifyPassword(input.password, row?.password_hash || (await hashForUnknownUser()));
  if (!row || !ok) {
    await deps.loginThrottle.recordFailure(input.username, clientIp);
    throw invalidCredentials();
  }
  await deps.loginThrottle.recordSuccess(input.username);
  const { token, expiresAt } = await deps.sessions.create(deps.db, row.id);
  return { token, expiresAt, user: presentUser(row) };
}

export async function getUser(deps: Deps, id: number): Promise<UserJson> {
  const row = await selectUserById(deps.db, id);
  if (!row) throw notFound(`There is no user with id ${id}.`);
  return presentUser(row);
}

// Page cursors are opaque to clients; inside they are the last id of the page.
const encodePageCursor = (id: number): string => Buffer.from(`p${id}`).toString('base64url');
export function decodePageCursor(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const match = /^p(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw badRequest('The cursor is malformed: pass back a nextCursor exactly as received.');
  return Number(match[1]);
}

export async function listUsers(
  deps: Deps,
  opts: { q?: string | undefined; limit: number; cursor?: string | undefined },
): Promise<{ users: UserJson[]; nextCursor: string | null }> {
  const afterId = decodePageCursor(opts.cursor);
  const rows = await selectUsers(deps.db, { prefix: opts.q, afterId, limit: opts.limit + 1 });
  const page = rows.slice(0, opts.limit);
  const last = page.at(-1);
  return {
    users: page.map(presentUser),
    nextCursor: rows.length > opts.limit && last ? encodePageCursor(last.id) : null,
  };
}

function assertSelf(session: Session, userId: number): void {
  if (session.userId !== userId) throw forbidden('You can only change your own account.');
}

async function existingUser(deps: Deps, id: number): Promise<UserRow> {
  const row = await selectUserById(deps.db, id);
  if (!row) throw notFound(`There is no user with id ${id}.`);
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
  deps: Deps,
  session: Session,
  id: number,
  patch: {
    username?: string | undefined;
    displayName?: string | undefined;
    avatarUrl?: string | null | undefined;
    password?: string | undefined;
    currentPassword?: string | undefined;
  },
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
    if (!(await verifyPassword(patch.currentPassword, current.password_hash))) {
      throw forbidden('currentPassword is not your current password.');
    }
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
    if (isUniqueViolation(err)) throw conflict(`The username "${patch.username}" is taken.`);
    throw err;
  }
}

export async function deleteUser(deps: Deps, session: Session, id: number): Promise<void> {
  await existingUser(deps, id);
  assertSelf(session, id);
  const at = nowIso();
  const announceRevocation = await commitWithEvents(deps, async (trx, record) => {
    const recipients = await selectContactIds(trx, id);
    const revoke = await deps.sessions.endAllOf(trx, id, at);
    await record({ type: 'user.deleted', recipients, data: { userId: String(id) } });
    const conversationIds = await selectCurrentConversationIds(trx, id);
    await endMembershipsOf(trx, id, record);
    // A group whose last owner this was gets its longest-standing member as owner.
    await handOverOwnership(trx, record, conversationIds, id);
    await markUserDeleted(trx, id, at);
    return revoke;
  });
  announceRevocation();
}

// Recognised by their first bytes, never by a name or a declared type.
const IMAGE_SIGNATURES: { type: string; matches: (b: Buffer) => boolean }[] = [
  { type: 'image/png', matches: (b) => b.subarray(0, 8).equals(Buffer.from('89504e470d0a1a0a', 'hex')) },
  { type: 'image/jpeg', matches: (b) => b.subarray(0, 3).equals(Buffer.from('ffd8ff', 'hex')) },
  { type: 'image/gif', matches: (b) => /^GIF8[79]a$/.test(b.subarray(0, 6).toString('latin1')) },
  {
    type: 'image/webp',
    matches: (b) =>
      b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP',
  },
];

export const imageTypeOf = (bytes: Buffer): string | undefined =>
  IMAGE_SIGNATURES.find((s) => s.matches(bytes))?.type;

export const avatarPath = (userId: number, etag: string) => `/users/${userId}/avatar?v=${etag.slice(0, 12)}`;

export async function setAvatar(deps: Deps, session: Session, id: number, bytes: Buffer): Promise<UserJson> {
  await existingUser(deps, id);
  assertSelf(session, id);
  const contentType = imageTypeOf(bytes);
  if (!contentType) throw unsupportedMediaType('The avatar must be a PNG, JPEG, WebP or GIF image.');
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

export async function getAvatar(deps: Deps, id: number): Promise<AvatarRow> {
  const avatar = (await selectUserById(deps.db, id)) && (await selectAvatar(deps.db, id));
  if (!avatar) throw notFound(`User ${id} has no uploaded avatar.`);
  return avatar;
}

export async function removeAvatar(deps: Deps, session: Session, id: number): Promise<void> {
  await existingUser(deps, id);
  assertSelf(session, id);
  const at = nowIso();
  await commitWithEvents(deps, async (trx, record) => {
    if ((await deleteAvatar(trx, id)) === 0) throw notFound(`User ${id} has no uploaded avatar.`);
    const updated = await updateUserRow(trx, id, { avatarUrl: null, at });
    await record(await announceUser(trx, updated));
  });
}
