import type { z } from 'zod';
import type { Deps } from './deps.ts';
import { badRequest, forbidden, invalid, isUniqueViolation, notFound } from './errors.ts';
import { commitWithEvents, inConversation, readConsistently } from './events/log.ts';
import { encodeCursor } from './events/position.ts';
import { groupBy } from './group.ts';
import type { Conversation, Message } from './schemas.ts';
import {
  addMessageToConversation,
  type ConversationRow,
  type ConversationView,
  directKey,
  forgetMessage,
  insertConversation,
  insertMemberships,
  type MemberRow,
  selectConversationsOf,
  selectDirectConversation,
  selectMember,
  selectMemberView,
  selectParticipants,
} from './store/conversations.ts';
import type { Executor } from './store/db.ts';
import { selectHeadPosition } from './store/events.ts';
import {
  deleteMessageRow,
  insertMessageByMember,
  type MessageRow,
  selectHistory,
  selectLastMessageId,
  selectMessage,
  selectMessageByClientId,
} from './store/messages.ts';
import { selectUsersByIds } from './store/users.ts';
import { nowIso } from './time.ts';

export type ConversationJson = z.output<typeof Conversation>;
export type MessageJson = z.output<typeof Message>;

export const presentMessage = (m: MessageRow): MessageJson => ({
  id: String(m.id),
  conversationId: String(m.conversation_id),
  senderId: String(m.sender_id),
  body: m.body,
  clientMessageId: m.client_message_id,
  createdAt: m.created_at,
  editedAt: m.edited_at,
});

/** Builds the public shape of members' views of conversations, with one more query for them all. */
async function presentConversations(db: Executor, views: ConversationView[]): Promise<ConversationJson[]> {
  const participants = await selectParticipants(
    db,
    views.map((v) => v.id),
  );
  const byConversation = groupBy(participants, (p) => p.conversation_id);
  return views.map((v) => ({
    id: String(v.id),
    type: v.type,
    title: v.title,
    participants: (byConversation.get(v.id) ?? []).map((p) => ({
      id: String(p.id),
      username: p.username,
      displayName: p.display_name,
      avatarUrl: p.avatar_url,
      role: p.role,
    })),
    createdBy: String(v.created_by),
    createdAt: v.created_at,
    updatedAt: v.updated_at,
    lastMessage: v.last_id === null ? null : presentMessage(lastMessageOf(v)),
    unreadCount: Number(v.unread_count),
  }));
}

const lastMessageOf = (v: ConversationView): MessageRow => ({
  id: v.last_id!,
  conversation_id: v.id,
  sender_id: v.last_sender_id,
  body: v.last_body,
  client_message_id: v.last_client_message_id,
  created_at: v.last_created_at,
  edited_at: v.last_edited_at,
});

/** A participant id as sent; anything that is not one of ours becomes 0, which matches no user. */
const asUserId = (s: string): number => (/^[1-9]\d{0,14}$/.test(s) ? Number(s) : 0);

/** Creates a conversation with the caller in it; a direct one that exists already is returned instead. */
export async function createConversation(
  deps: Deps,
  callerId: number,
  input: { participantIds: string[]; title?: string | undefined },
): Promise<{ conversation: ConversationJson; created: boolean }> {
  const requested = [...new Set(input.participantIds)];
  const found = new Set((await selectUsersByIds(deps.db, requested.map(asUserId))).map((u) => u.id));
  const unknown = requested.filter((s) => !found.has(asUserId(s)));
  if (unknown.length) {
    throw invalid(`Unknown participant ids: ${unknown.join(', ')}.`, [
      { path: 'participantIds', message: `unknown user ids: ${unknown.join(', ')}` },
    ]);
  }
  const others = [...found].filter((id) => id !== callerId);
  if (others.length === 0) throw badRequest('Add at least one participant other than yourself.');
  const isDirect = others.length === 1 && input.title === undefined;
  const key = isDirect ? directKey(callerId, others[0]!) : null;
  if (key) {
    const existing = await selectDirectConversation(deps.db, key);
    if (existing)
      return { conversation: await conversationOf(deps.db, existing.id, callerId), created: false };
  }
  const at = nowIso();
  try {
    const row = await commitWithEvents(deps, async (trx, record) => {
      const conversation = await insertConversation(trx, {
        type: isDirect ? 'direct' : 'group',
        title: input.title ?? null,
        createdBy: callerId,
        directKey: key,
        at,
      });
      const members = [
        { userId: callerId, role: 'owner' },
        ...others.map((userId) => ({ userId, role: 'member' })),
      ];
      // Members join at the event that announces the conversation: they see everything after it.
      await insertMemberships(trx, conversation.id, members, 0, 0, at);
      const shown = await conversationOf(trx, conversation.id, callerId);
      const eventId = await record({
        type: 'conversation.created',
        recipients: members.map((m) => m.userId),
        data: shown,
      });
      await trx('memberships')
        .where({ conversation_id: conversation.id })
        .update({ joined_event_id: eventId });
      return conversation;
    });
    return { conversation: await conversationOf(deps.db, row.id, callerId), created: true };
  } catch (err) {
    // Two first messages racing for one direct conversation: the loser returns the winner's.
    if (key && isUniqueViolation(err)) {
      const existing = await selectDirectConversation(deps.db, key);
      if (existing)
        return { conversation: await conversationOf(deps.db, existing.id, callerId), created: false };
    }
    throw err;
  }
}

/** The public shape of a member's view of a conversation. */
async function conversationFor(db: Executor, view: ConversationView): Promise<ConversationJson> {
  const [shown] = await presentConversations(db, [view]);
  return shown!;
}

/** A conversation as one of its current members sees it (404 for anyone else). */
export async function conversationOf(
  db: Executor,
  conversationId: number,
  userId: number,
): Promise<ConversationJson> {
  return conversationFor(db, await memberViewOf(db, conversationId, userId));
}

/** The caller's view of a conversation, or 404 — a conversation you are not in does not exist for you. */
async function memberViewOf(db: Executor, conversationId: number, userId: number): Promise<ConversationView> {
  return mustBeMember(await selectMemberView(db, conversationId, userId));
}

/** The caller's membership alone (cheaper than their view), or 404. */
async function memberOf(db: Executor, conversationId: number, userId: number): Promise<MemberRow> {
  return mustBeMember(await selectMember(db, conversationId, userId));
}

function mustBeMember<T>(found: T | undefined): T {
  // One detail for "not a member", "no such id" and "not an id at all", so nothing leaks.
  if (!found) throw notFound('There is no such conversation among yours.');
  return found;
}

const encodeListCursor = (r: ConversationRow): string =>
  Buffer.from(`${r.last_activity_at}|${r.id}`).toString('base64url');
function decodeListCursor(cursor: string | undefined): { at: string; id: number } | null {
  if (cursor === undefined) return null;
  const match = /^(\d{4}-\d\d-\d\dT[\d:.]+Z)\|(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw badRequest('The cursor is malformed: pass back a nextCursor exactly as received.');
  return { at: match[1]!, id: Number(match[2]) };
}

export async function listConversations(
  deps: Deps,
  userId: number,
  opts: { limit: number; cursor?: string | undefined },
): Promise<{ conversations: ConversationJson[]; nextCursor: string | null; eventCursor: string }> {
  const after = decodeListCursor(opts.cursor);
  // One transaction: the event cursor is exactly as of the state read with it.
  return readConsistently(deps.db, async (trx) => {
    const head = await selectHeadPosition(trx);
    const rows = await selectConversationsOf(trx, userId, { after, limit: opts.limit + 1 });
    const page = rows.slice(0, opts.limit);
    const last = page.at(-1);
    return {
      conversations: await presentConversations(trx, page),
      nextCursor: rows.length > opts.limit && last ? encodeListCursor(last) : null,
      eventCursor: encodeCursor(head),
    };
  });
}

export async function getConversation(
  deps: Deps,
  userId: number,
  conversationId: number,
  opts: { limit: number; before?: number | undefined; after?: number | undefined },
): Promise<{
  conversation: ConversationJson;
  messages: MessageJson[];
  hasMore: boolean;
  eventCursor: string;
}> {
  return readConsistently(deps.db, async (trx) => {
    const head = await selectHeadPosition(trx);
    const membership = await memberViewOf(trx, conversationId, userId);
    const history = await selectHistory(trx, conversationId, {
      visibleAfter: membership.visible_after_message_id,
      before: opts.before,
      after: opts.after,
      limit: opts.limit,
    });
    return {
      conversation: await conversationFor(trx, membership),
      messages: history.rows.map(presentMessage),
      hasMore: history.hasMore,
      eventCursor: encodeCursor(head),
    };
  });
}

/** Appends a message; a repeated clientMessageId from the same sender returns the first one. */
export async function sendMessage(
  deps: Deps,
  senderId: number,
  conversationId: number,
  input: { body: string; clientMessageId?: string | undefined },
): Promise<{ message: MessageJson; created: boolean }> {
  const clientMessageId = input.clientMessageId ?? null;
  const repeated = async (db: Executor) =>
    clientMessageId ? selectMessageByClientId(db, conversationId, senderId, clientMessageId) : undefined;
  try {
    // Everything under the conversation's lock: it orders concurrent senders, so ids, events and
    // commits agree, and a removal that committed before it wins over this send.
    return await commitWithEvents(inConversation(deps, conversationId), async (trx, record) => {
      if (clientMessageId) {
        // Checked first: a removed member repeating an old clientMessageId gets 404, not that message.
        await memberOf(trx, conversationId, senderId);
        const earlier = await repeated(trx);
        if (earlier) return { message: presentMessage(earlier), created: false };
      }
      // Read the clock under the lock too, so createdAt never runs backwards against message order.
      const at = nowIso();
      const row = mustBeMember(
        await insertMessageByMember(trx, { conversationId, senderId, body: input.body, clientMessageId, at }),
      );
      await addMessageToConversation(trx, conversationId, senderId, row.id, at);
      const message = presentMessage(row);
      await record({ type: 'message.created', conversationId, data: message });
      return { message, created: true };
    });
  } catch (err) {
    // The same clientMessageId sent twice at once on PostgreSQL: the loser returns the winner's.
    if (isUniqueViolation(err)) {
      const first = await repeated(deps.db);
      if (first) return { message: presentMessage(first), created: false };
    }
    throw err;
  }
}

export async function deleteMessage(
  deps: Deps,
  userId: number,
  conversationId: number,
  messageId: number,
): Promise<void> {
  const membership = await memberOf(deps.db, conversationId, userId);
  const message = await selectMessage(deps.db, conversationId, messageId);
  if (!message || message.id <= membership.visible_after_message_id) {
    throw notFound(`There is no message ${messageId} in conversation ${conversationId}.`);
  }
  if (message.sender_id !== userId) throw forbidden('Only the sender can delete a message.');
  await commitWithEvents(inConversation(deps, conversationId), async (trx, record) => {
    // Checked again inside the transaction: of several concurrent deletes only one records an event.
    if ((await deleteMessageRow(trx, messageId)) === 0) {
      throw notFound(`There is no message ${messageId} in conversation ${conversationId}.`);
    }
    await forgetMessage(
      trx,
      conversationId,
      message,
      await selectLastMessageId(trx, conversationId),
      nowIso(),
    );
    await record({
      type: 'message.deleted',
      conversationId,
      data: { conversationId: String(conversationId), messageId: String(messageId) },
    });
  });
}
