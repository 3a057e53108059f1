import type { Knex } from 'knex';
import type { Config } from '../config.ts';
import type { Store } from '../events/log.ts';
import { commitWithEvents, inConversation } from '../events/log.ts';
import {
  conversationEncrypted,
  forbidden,
  groupFull,
  invalid,
  lastOwner,
  malformedCursor,
  noSuchConversation,
  notAGroup,
  notFound,
  userNamed,
} from '../http/problems.ts';
import { EMBEDDED_PARTICIPANTS } from '../http/schemas.ts';
import {
  type ConversationRow,
  selectConversation,
  selectMemberView,
  selectParticipants,
  selectParticipantsPage,
} from '../store/conversations.ts';
import type { RecordEvent } from '../store/events.ts';
import {
  endMembership,
  insertMemberships,
  type Role,
  selectCurrentMembers,
  selectLastMessageIdOf,
  touchConversation,
  updateRole,
  updateTitle,
} from '../store/memberships.ts';
import { selectLiveUsersForMembership } from '../store/users.ts';
import { nowIso } from '../util/time.ts';
import { memberOf } from './access.ts';
import {
  type ConversationJson,
  conversationOf,
  presentParticipant,
  presentParticipants,
} from './conversations.ts';

// Who may do what in a group. Anyone may leave; only owners hand out roles.
const MANAGERS: readonly Role[] = ['owner', 'admin'];

const toId = (s: string): number => (/^[1-9]\d{0,14}$/.test(s) ? Number(s) : 0);

/** The caller's membership inside the transaction, or 404: a conversation you are not in does not exist for you. */
async function callerMembership(trx: Knex.Transaction, conversationId: number, userId: number) {
  const membership = await selectMemberView(trx, conversationId, userId);
  if (!membership) throw noSuchConversation();
  return membership;
}

function assertGroup(conversation: ConversationRow, what: string): void {
  if (conversation.type === 'direct') {
    throw notAGroup(what);
  }
}

function assertNotEncrypted(conversation: ConversationRow, how: string): void {
  if (conversation.encrypted)
    throw conversationEncrypted(`This conversation is end-to-end encrypted. ${how}`);
}

export function assertManager(role: string): void {
  if (!MANAGERS.includes(role as Role)) throw forbidden('Only the owners and admins of a group can do that.');
}

/**
 * The data of `conversation.updated`: the conversation as every member sees it, without the
 * per-reader fields (lastMessage, unreadCount, notifications).
 */
async function conversationUpdate(trx: Knex.Transaction, conversationId: number, by: number) {
  const row = (await selectConversation(trx, conversationId))!;
  const participants = await selectParticipants(trx, [conversationId], EMBEDDED_PARTICIPANTS);
  return {
    id: String(row.id),
    type: row.type,
    title: row.title,
    ...presentParticipants(participants),
    createdBy: String(row.created_by),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    encrypted: Boolean(row.encrypted),
    updatedBy: String(by),
  };
}

/** Adds users to a group; those already in it are left as they are. Returns the conversation for the caller. */
export async function addParticipants(
  deps: Store & { config: Pick<Config, 'maxGroupMembers'> },
  callerId: number,
  conversationId: number,
  userIds: string[],
): Promise<ConversationJson> {
  const at = nowIso();
  return commitWithEvents(inConversation(deps, conversationId), async (trx, record) => {
    const caller = await callerMembership(trx, conversationId, callerId);
    assertGroup(caller, "can't gain members");
    assertManager(caller.role);
    assertNotEncrypted(caller, 'Add members with an MLS commit that names them in `add`.');
    await admitMembers(trx, record, {
      conversationId,
      callerId,
      userIds,
      maxGroupMembers: deps.config.maxGroupMembers,
      at,
    });
    return conversationOf(trx, conversationId, callerId);
  });
}

/**
 * Makes these users members, inside the caller's transaction under the conversation's lock: those
 * already in it are left as they are, unknown or deleted accounts are a 400, and the group cap holds.
 * The members get `participant.added`, the newcomers `conversation.created`. Returns the newcomers.
 * The rules of adding, shared by POST …/participants and MLS commits that add (lib/e2ee/commits.ts).
 */
export async function admitMembers(
  trx: Knex.Transaction,
  record: RecordEvent,
  opts: {
    conversationId: number;
    callerId: number;
    userIds: readonly string[];
    maxGroupMembers: number;
    at: string;
    /** The body field that named the users, for a 400 (default `userIds`). */
    field?: string;
  },
): Promise<number[]> {
  const { conversationId, callerId, at } = opts;
  const wanted = [...new Set(opts.userIds)];
  const ids = wanted.map(toId);
  const current = new Set((await selectCurrentMembers(trx, conversationId)).map((m) => m.user_id));
  // Checked inside the transaction: an account deleted meanwhile never becomes a member. Only
  // those not in the group yet are checked (and share-locked): a member's account deletion holds
  // their row and waits for this conversation's lock, so locking their row here would deadlock.
  const found = new Set(
    (
      await selectLiveUsersForMembership(
        trx,
        [...new Set(ids)].filter((id) => !current.has(id)),
      )
    ).map((u) => Number(u.id)),
  );
  const unknown = wanted.filter((_, i) => !found.has(ids[i]!) && !current.has(ids[i]!));
  if (unknown.length) {
    throw invalid(`Unknown user ids: ${unknown.join(', ')}.`, [
      { path: opts.field ?? 'userIds', message: `unknown user ids: ${unknown.join(', ')}` },
    ]);
  }
  const newcomers = [...new Set(ids)].filter((id) => found.has(id)); // in the order named
  if (current.size + newcomers.length > opts.maxGroupMembers) {
    throw groupFull(`A group has at most ${opts.maxGroupMembers} members; this one has ${current.size}.`);
  }
  if (newcomers.length === 0) return newcomers;
  await touchConversation(trx, conversationId, at);
  // A newcomer's history starts after the newest message so far: they cannot page back before it.
  const visibleAfter = await selectLastMessageIdOf(trx, conversationId);
  // One announcement to the members for all newcomers, not one each: adding n members to a group
  // of m would send n × m frames (ten million to form a group of 5,000 a thousand at a time). The
  // newcomers join at it, so they do not hear of it: their first event of the conversation is
  // the conversation.created that follows, listing everyone.
  const joinedEventId = await record({
    type: 'participant.added',
    conversationId,
    data: {
      conversationId: String(conversationId),
      userIds: newcomers.map(String),
      role: 'member',
      addedBy: String(callerId),
    },
  });
  await insertMemberships(
    trx,
    conversationId,
    newcomers.map((userId) => ({ userId, role: 'member' as const, joinedEventId })),
    visibleAfter,
    at,
  );
  // One event for all newcomers, not one each: each would hold the whole participant list, and
  // adding n members would store n² participants. Every newcomer sees the conversation alike —
  // no message yet (their history starts now), nothing unread — so the first one's view serves all.
  await record({
    type: 'conversation.created',
    recipients: newcomers,
    data: await conversationOf(trx, conversationId, newcomers[0]!),
  });
  return newcomers;
}

/** Owners and admins remove members; only owners remove other owners and admins. */
export function assertMayRemove(callerRole: string, targetRole: string): void {
  assertManager(callerRole);
  if (callerRole !== 'owner' && targetRole !== 'member') {
    throw forbidden('Only an owner can remove an owner or an admin.');
  }
}

/**
 * Ends a membership, inside the caller's transaction under the conversation's lock. The member sees
 * `participant.removed` as their last event of the conversation, then nothing more.
 */
export async function dismissMember(
  trx: Knex.Transaction,
  record: RecordEvent,
  m: { conversationId: number; membershipId: number; userId: number; callerId: number; at: string },
): Promise<void> {
  const eventId = await record({
    type: 'participant.removed',
    conversationId: m.conversationId,
    data: {
      conversationId: String(m.conversationId),
      userId: String(m.userId),
      removedBy: String(m.callerId),
    },
  });
  await endMembership(trx, { id: m.membershipId, conversationId: m.conversationId }, eventId);
  await touchConversation(trx, m.conversationId, m.at);
}

/** Removes a member (owners and admins), or leaves when the target is the caller. */
export async function removeParticipant(
  deps: Store,
  callerId: number,
  conversationId: number,
  targetId: number,
): Promise<void> {
  const at = nowIso();
  await commitWithEvents(inConversation(deps, conversationId), async (trx, record) => {
    const caller = await callerMembership(trx, conversationId, callerId);
    assertGroup(caller, 'has fixed participants: nobody can be removed or leave');
    const members = await selectCurrentMembers(trx, conversationId);
    const target = members.find((m) => m.user_id === targetId);
    if (!target)
      throw notFound(`${userNamed(targetId)} is not a participant of conversation ${conversationId}.`);
    if (targetId !== callerId) {
      // Leaving needs no commit (MLS does not let a member commit its own removal): the others do.
      assertNotEncrypted(caller, 'Remove members with an MLS commit that names them in `remove`.');
      assertMayRemove(caller.role, target.role);
    }
    await dismissMember(trx, record, {
      conversationId,
      membershipId: target.id,
      userId: targetId,
      callerId,
      at,
    });
    const remaining = members.filter((m) => m.id !== target.id);
    if (target.role === 'owner' && remaining.length > 0 && !remaining.some((m) => m.role === 'owner')) {
      await promoteOwner(trx, record, conversationId, remaining[0]!.id, callerId);
    }
  });
}

async function promoteOwner(
  trx: Knex.Transaction,
  record: RecordEvent,
  conversationId: number,
  membershipId: number,
  by: number,
): Promise<void> {
  await updateRole(trx, membershipId, 'owner');
  await record({
    type: 'conversation.updated',
    conversationId,
    data: await conversationUpdate(trx, conversationId, by),
  });
}

/**
 * Gives each of these conversations an owner again if it has members but none is owner (the last
 * owner left by deleting their account): the longest-standing member becomes owner.
 */
export async function handOverOwnership(
  trx: Knex.Transaction,
  record: RecordEvent,
  conversationIds: readonly number[],
  by: number,
): Promise<void> {
  for (const conversationId of conversationIds) {
    const members = await selectCurrentMembers(trx, conversationId);
    if (members.length > 0 && !members.some((m) => m.role === 'owner')) {
      await promoteOwner(trx, record, conversationId, members[0]!.id, by);
    }
  }
}

/** Changes a member's role; owners only. A group always keeps at least one owner. */
export async function changeRole(
  deps: Store,
  callerId: number,
  conversationId: number,
  targetId: number,
  role: Role,
): Promise<ConversationJson> {
  const at = nowIso();
  return commitWithEvents(inConversation(deps, conversationId), async (trx, record) => {
    const caller = await callerMembership(trx, conversationId, callerId);
    assertGroup(caller, 'has no roles');
    if (caller.role !== 'owner') throw forbidden('Only an owner can change roles.');
    const members = await selectCurrentMembers(trx, conversationId);
    const target = members.find((m) => m.user_id === targetId);
    if (!target)
      throw notFound(`${userNamed(targetId)} is not a participant of conversation ${conversationId}.`);
    if (
      target.role === 'owner' &&
      role !== 'owner' &&
      members.filter((m) => m.role === 'owner').length === 1
    ) {
      throw lastOwner();
    }
    if (target.role !== role) {
      await updateRole(trx, target.id, role);
      await touchConversation(trx, conversationId, at);
      await record({
        type: 'conversation.updated',
        conversationId,
        data: await conversationUpdate(trx, conversationId, callerId),
      });
    }
    return conversationOf(trx, conversationId, callerId);
  });
}

/** Renames a group (owners and admins); null clears the title. */
export async function renameConversation(
  deps: Store,
  callerId: number,
  conversationId: number,
  title: string | null,
): Promise<ConversationJson> {
  const at = nowIso();
  return commitWithEvents(inConversation(deps, conversationId), async (trx, record) => {
    const caller = await callerMembership(trx, conversationId, callerId);
    assertGroup(caller, "can't be renamed");
    assertManager(caller.role);
    await updateTitle(trx, conversationId, title, at);
    await record({
      type: 'conversation.updated',
      conversationId,
      data: await conversationUpdate(trx, conversationId, callerId),
    });
    return conversationOf(trx, conversationId, callerId);
  });
}

const encodeParticipantCursor = (membershipId: number): string =>
  Buffer.from(`p${membershipId}`).toString('base64url');
function decodeParticipantCursor(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const match = /^p([1-9]\d{0,14})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw malformedCursor('cursor');
  return Number(match[1]);
}

type ParticipantWithPresence = ReturnType<typeof presentParticipant> & {
  presence: 'online' | 'offline';
  lastSeenAt: string | null;
};

/**
 * A page of a conversation's participants with their presence, longest-standing first; members
 * only (404 otherwise). Where presence.updated does not reach (groups above PRESENCE_GROUP_LIMIT),
 * this is how a client shows who is online among the members on screen.
 */
export async function listParticipants(
  deps: Store,
  callerId: number,
  conversationId: number,
  opts: { limit: number; cursor?: string | undefined },
): Promise<{ participants: ParticipantWithPresence[]; nextCursor: string | null }> {
  const afterMembershipId = decodeParticipantCursor(opts.cursor);
  await memberOf(deps.db, conversationId, callerId);
  const rows = await selectParticipantsPage(deps.db, conversationId, {
    afterMembershipId,
    limit: opts.limit + 1,
  });
  const page = rows.slice(0, opts.limit);
  const last = page.at(-1);
  return {
    participants: page.map((p) => ({
      ...presentParticipant(p),
      presence: p.presence,
      lastSeenAt: p.last_seen_at,
    })),
    nextCursor: rows.length > opts.limit && last ? encodeParticipantCursor(last.membership_id) : null,
  };
}
