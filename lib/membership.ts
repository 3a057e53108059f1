import type { Knex } from 'knex';
import { type ConversationJson, conversationOf } from './conversations.ts';
import type { Deps } from './deps.ts';
import { badRequest, conflict, forbidden, invalid, notFound } from './errors.ts';
import { commitWithEvents, inConversation, type RecordEvent } from './events/log.ts';
import {
  type ConversationRow,
  type ParticipantRow,
  selectMemberView,
  selectParticipants,
} from './store/conversations.ts';
import {
  endMembership,
  insertMembership,
  lockConversation,
  type Role,
  selectCurrentMembers,
  selectLastMessageIdOf,
  updateRole,
  updateTitle,
} from './store/memberships.ts';
import { selectUsersByIds } from './store/users.ts';
import { nowIso } from './time.ts';

// Who may do what in a group. Anyone may leave; only owners hand out roles.
const MANAGERS: readonly Role[] = ['owner', 'admin'];

const toId = (s: string): number => (/^[1-9]\d{0,14}$/.test(s) ? Number(s) : 0);

/** The caller's membership inside the transaction, or 404: a conversation you are not in does not exist for you. */
async function callerMembership(trx: Knex.Transaction, conversationId: number, userId: number) {
  const membership = await selectMemberView(trx, conversationId, userId);
  if (!membership) throw notFound('There is no such conversation among yours.');
  return membership;
}

function assertGroup(conversation: ConversationRow, what: string): void {
  if (conversation.type === 'direct') {
    throw badRequest(
      `A direct conversation ${what}. Start a group instead: POST /conversations with every participantId and a title.`,
    );
  }
}

function assertManager(role: string): void {
  if (!MANAGERS.includes(role as Role)) throw forbidden('Only the owners and admins of a group can do that.');
}

const presentParticipant = (p: ParticipantRow) => ({
  id: String(p.id),
  username: p.username,
  displayName: p.display_name,
  avatarUrl: p.avatar_url,
  role: p.role,
});

/**
 * The data of `conversation.updated`: the conversation as every member sees it, without the
 * per-reader fields (lastMessage, unreadCount).
 */
async function conversationUpdate(trx: Knex.Transaction, conversationId: number, by: number) {
  const row = await trx('conversations')
    .first('id', 'type', 'title', 'created_by', 'created_at', 'updated_at')
    .where({ id: conversationId });
  const participants = await selectParticipants(trx, [conversationId]);
  return {
    id: String(row.id),
    type: row.type,
    title: row.title,
    participants: participants.map(presentParticipant),
    createdBy: String(row.created_by),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    updatedBy: String(by),
  };
}

/** Adds users to a group; those already in it are left as they are. Returns the conversation for the caller. */
export async function addParticipants(
  deps: Deps,
  callerId: number,
  conversationId: number,
  userIds: string[],
): Promise<ConversationJson> {
  const wanted = [...new Set(userIds)];
  const ids = wanted.map(toId);
  const found = new Set((await selectUsersByIds(deps.db, ids)).map((u) => u.id));
  const unknown = wanted.filter((_, i) => !found.has(ids[i]!));
  const at = nowIso();
  return commitWithEvents(inConversation(deps, conversationId), async (trx, record) => {
    const caller = await callerMembership(trx, conversationId, callerId);
    assertGroup(caller, "can't gain members");
    assertManager(caller.role);
    if (unknown.length) {
      throw invalid(`Unknown user ids: ${unknown.join(', ')}.`, [
        { path: 'userIds', message: `unknown user ids: ${unknown.join(', ')}` },
      ]);
    }
    await lockConversation(trx, conversationId, at);
    const current = new Set((await selectCurrentMembers(trx, conversationId)).map((m) => m.user_id));
    const newcomers = [...found].filter((id) => !current.has(id));
    if (current.size + newcomers.length > deps.config.maxGroupMembers) {
      throw conflict(
        `A group has at most ${deps.config.maxGroupMembers} members; this one has ${current.size}.`,
      );
    }
    // A newcomer's history starts after the newest message so far: they cannot page back before it.
    const visibleAfter = await selectLastMessageIdOf(trx, conversationId);
    for (const userId of newcomers) {
      // Recorded before the membership exists, so the newcomer does not see it: the
      // conversation.created that follows is their first event of this conversation.
      const eventId = await record({
        type: 'participant.added',
        conversationId,
        data: {
          conversationId: String(conversationId),
          userId: String(userId),
          role: 'member',
          addedBy: String(callerId),
        },
      });
      await insertMembership(trx, {
        conversationId,
        userId,
        role: 'member',
        joinedEventId: eventId,
        visibleAfterMessageId: visibleAfter,
        at,
      });
    }
    for (const userId of newcomers) {
      await record({
        type: 'conversation.created',
        recipients: [userId],
        data: await conversationOf(trx, conversationId, userId),
      });
    }
    return conversationOf(trx, conversationId, callerId);
  });
}

/** Removes a member (owners and admins), or leaves when the target is the caller. */
export async function removeParticipant(
  deps: Deps,
  callerId: number,
  conversationId: number,
  targetId: number,
): Promise<void> {
  const at = nowIso();
  await commitWithEvents(inConversation(deps, conversationId), async (trx, record) => {
    const caller = await callerMembership(trx, conversationId, callerId);
    assertGroup(caller, 'has fixed participants: nobody can be removed or leave');
    await lockConversation(trx, conversationId, at);
    const members = await selectCurrentMembers(trx, conversationId);
    const target = members.find((m) => m.user_id === targetId);
    if (!target) throw notFound(`User ${targetId} is not a participant of conversation ${conversationId}.`);
    if (targetId !== callerId) {
      assertManager(caller.role);
      // Admins manage members; only owners can remove other owners and admins.
      if (caller.role !== 'owner' && target.role !== 'member') {
        throw forbidden('Only an owner can remove an owner or an admin.');
      }
    }
    // The member sees this event (their last of the conversation), then nothing more.
    const eventId = await record({
      type: 'participant.removed',
      conversationId,
      data: { conversationId: String(conversationId), userId: String(targetId), removedBy: String(callerId) },
    });
    await endMembership(trx, target.id, eventId);
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
  deps: Deps,
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
    await lockConversation(trx, conversationId, at);
    const members = await selectCurrentMembers(trx, conversationId);
    const target = members.find((m) => m.user_id === targetId);
    if (!target) throw notFound(`User ${targetId} is not a participant of conversation ${conversationId}.`);
    if (
      target.role === 'owner' &&
      role !== 'owner' &&
      members.filter((m) => m.role === 'owner').length === 1
    ) {
      throw conflict('A group needs an owner: make someone else owner first.');
    }
    if (target.role !== role) {
      await updateRole(trx, target.id, role);
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
  deps: Deps,
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
