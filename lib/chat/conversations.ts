import type { z } from 'zod';
import type { Config } from '../config.ts';
import type { Store } from '../events/log.ts';
import { commitWithEvents, readConsistently, readPreparedConsistently } from '../events/log.ts';
import { groupFull, invalid, malformedCursor, noOtherParticipant } from '../http/problems.ts';
import { type Conversation, EMBEDDED_PARTICIPANTS, type Message } from '../http/schemas.ts';
import {
  type ConversationRow,
  type ConversationView,
  directKey,
  insertConversation,
  type ParticipantRow,
  type ShownParticipantRow,
  selectConversationsOf,
  selectDirectConversation,
  selectParticipants,
  selectParticipantsOf,
} from '../store/conversations.ts';
import type { Executor, Runner } from '../store/db.ts';
import { isUniqueViolation } from '../store/db.ts';
import { selectHeadPosition } from '../store/events.ts';
import { insertMemberships, setJoinedEvent } from '../store/memberships.ts';
import { type MessageRow, selectHistory } from '../store/messages.ts';
import { encodeCursor } from '../store/position.ts';
import { selectLiveUsersForMembership, selectUsersByIds } from '../store/users.ts';
import { groupBy } from '../util/group-by.ts';
import { toId } from '../util/ids.ts';
import { nowIso } from '../util/time.ts';
import { memberViewOf } from './access.ts';
import { presentMessage } from './messages.ts';

export type ConversationJson = z.output<typeof Conversation>;
export type MessageJson = z.output<typeof Message>;

/** Builds the public shape of members' views of conversations, with one more query for them all. */
async function presentConversations(db: Executor, views: ConversationView[]): Promise<ConversationJson[]> {
  const participants = await selectParticipants(
    db,
    views.map((v) => v.id),
    EMBEDDED_PARTICIPANTS,
  );
  const byConversation = groupBy(participants, (p) => p.conversation_id);
  return views.map((v) => presentConversation(v, byConversation.get(v.id) ?? []));
}

/** The public shape of a member's view of a conversation, with the participants it embeds. */
const presentConversation = (v: ConversationView, participants: ShownParticipantRow[]): ConversationJson => ({
  id: String(v.id),
  type: v.type,
  title: v.title,
  ...presentParticipants(participants),
  createdBy: String(v.created_by),
  createdAt: v.created_at,
  updatedAt: v.updated_at,
  lastMessage: v.last_id === null ? null : presentMessage(lastMessageOf(v)),
  unreadCount: Number(v.unread_count),
  encrypted: Boolean(v.encrypted),
  epoch: Number(v.epoch),
  notifications: v.muted_by === null ? 'all' : 'none',
});

/** What a Conversation embeds of its participants: the first few, and how many there are. */
export const presentParticipants = (rows: readonly ShownParticipantRow[]) => ({
  participants: rows.map(presentParticipant),
  participantCount: Number(rows[0]?.participant_count ?? 0),
});

export const presentParticipant = (p: ParticipantRow) => ({
  id: String(p.id),
  username: p.username,
  displayName: p.display_name,
  avatarUrl: p.avatar_url,
  role: p.role,
});

const lastMessageOf = (v: ConversationView): MessageRow => ({
  id: v.last_id!,
  conversation_id: v.id,
  sender_id: v.last_sender_id,
  body: v.last_body,
  ciphertext: v.last_ciphertext,
  client_message_id: v.last_client_message_id,
  created_at: v.last_created_at,
  edited_at: v.last_edited_at,
});

/** Creates a conversation with the caller in it; a direct one that exists already is returned instead. */
export async function createConversation(
  deps: Store & { config: Pick<Config, 'maxGroupMembers'> },
  callerId: number,
  input: { participantIds: string[]; title?: string | undefined; encrypted?: boolean | undefined },
): Promise<{ conversation: ConversationJson; created: boolean }> {
  const requested = [...new Set(input.participantIds)];
  // Checked again inside the transaction that makes the memberships (see below).
  const found = new Set((await selectUsersByIds(deps.db, requested.map(toId))).map((u) => u.id));
  const unknown = requested.filter((s) => !found.has(toId(s)));
  if (unknown.length) {
    throw invalid(`Unknown participant ids: ${unknown.join(', ')}.`, [
      { path: 'participantIds', message: `unknown user ids: ${unknown.join(', ')}` },
    ]);
  }
  const others = [...found].filter((id) => id !== callerId);
  if (others.length === 0) throw noOtherParticipant();
  // The same cap as adding members: the caller counts too.
  if (others.length + 1 > deps.config.maxGroupMembers) {
    throw groupFull(
      `A group has at most ${deps.config.maxGroupMembers} members; this one would have ${others.length + 1}.`,
    );
  }
  const isDirect = others.length === 1 && input.title === undefined;
  // An encrypted direct conversation is another than the plain one of the same pair (never a downgrade).
  const key = isDirect ? `${input.encrypted ? 'e' : ''}${directKey(callerId, others[0]!)}` : null;
  if (key) {
    const existing = await selectDirectConversation(deps.db, key);
    if (existing)
      return { conversation: await conversationOf(deps.db, existing.id, callerId), created: false };
  }
  const at = nowIso();
  try {
    const row = await commitWithEvents(deps, async (trx, record) => {
      // An account deleted since the check above never becomes a member.
      const live = await selectLiveUsersForMembership(trx, [...found]);
      if (live.length !== found.size) {
        const gone = [...found].filter((id) => !live.some((u) => Number(u.id) === id));
        throw invalid(`Unknown participant ids: ${gone.join(', ')}.`, [
          { path: 'participantIds', message: `unknown user ids: ${gone.join(', ')}` },
        ]);
      }
      const conversation = await insertConversation(trx, {
        type: isDirect ? 'direct' : 'group',
        title: input.title ?? null,
        createdBy: callerId,
        directKey: key,
        encrypted: input.encrypted === true,
        at,
      });
      const members = [
        { userId: callerId, role: 'owner' as const, joinedEventId: 0 },
        ...others.map((userId) => ({ userId, role: 'member' as const, joinedEventId: 0 })),
      ];
      // Members join at the event that announces the conversation (set below, once it exists).
      await insertMemberships(trx, conversation.id, members, 0, at);
      const shown = await conversationOf(trx, conversation.id, callerId);
      const eventId = await record({
        type: 'conversation.created',
        recipients: members.map((m) => m.userId),
        data: shown,
      });
      await setJoinedEvent(trx, conversation.id, eventId);
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
async function conversationFor(db: Runner, view: ConversationView): Promise<ConversationJson> {
  return presentConversation(view, await selectParticipantsOf(db, view.id, EMBEDDED_PARTICIPANTS));
}

/** A conversation as one of its current members sees it (404 for anyone else). */
export async function conversationOf(
  db: Executor,
  conversationId: number,
  userId: number,
): Promise<ConversationJson> {
  return conversationFor(db, await memberViewOf(db, conversationId, userId));
}

const encodeListCursor = (r: ConversationRow): string =>
  Buffer.from(`${r.last_activity_at}|${r.id}`).toString('base64url');
function decodeListCursor(cursor: string | undefined): { at: string; id: number } | null {
  if (cursor === undefined) return null;
  const match = /^(\d{4}-\d\d-\d\dT[\d:.]+Z)\|(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw malformedCursor('cursor');
  return { at: match[1]!, id: Number(match[2]) };
}

export async function listConversations(
  deps: Store,
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
  deps: Store,
  userId: number,
  conversationId: number,
  opts: { limit: number; before?: number | undefined; after?: number | undefined },
): Promise<{
  conversation: ConversationJson;
  messages: MessageJson[];
  hasMore: boolean;
  eventCursor: string;
}> {
  return readPreparedConsistently(deps.db, async (trx) => {
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
