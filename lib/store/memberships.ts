import type { Executor } from './db.ts';

export type Role = 'owner' | 'admin' | 'member';

export interface CurrentMemberRow {
  /** The membership period's id: lower means a member since longer. */
  id: number;
  user_id: number;
  role: Role;
}

/** Current members of a conversation, longest-standing first. */
export async function selectCurrentMembers(
  db: Executor,
  conversationId: number,
): Promise<CurrentMemberRow[]> {
  return db('memberships')
    .select('id', 'user_id', 'role')
    .where({ conversation_id: conversationId })
    .whereNull('left_event_id')
    .orderBy('id');
}

/** Records that the conversation changed (its members or their roles). */
export async function touchConversation(db: Executor, conversationId: number, at: string): Promise<void> {
  await db('conversations').where({ id: conversationId }).update({ updated_at: at });
}

export async function insertMembership(
  db: Executor,
  m: {
    conversationId: number;
    userId: number;
    role: Role;
    joinedEventId: number;
    visibleAfterMessageId: number;
    at: string;
  },
): Promise<void> {
  await db('memberships').insert({
    conversation_id: m.conversationId,
    user_id: m.userId,
    role: m.role,
    joined_at: m.at,
    joined_event_id: m.joinedEventId,
    visible_after_message_id: m.visibleAfterMessageId,
    // What was there before joining is neither unread nor undelivered for the newcomer.
    last_read_message_id: m.visibleAfterMessageId,
    last_delivered_message_id: m.visibleAfterMessageId,
    // …and so every message so far is settled: none counts as unread.
    settled_count: db('conversations').select('message_count').where({ id: m.conversationId }),
  });
}

/** Closes a membership period at the event that announced the leaving. */
export async function endMembership(db: Executor, membershipId: number, leftEventId: number): Promise<void> {
  await db('memberships').where({ id: membershipId }).update({ left_event_id: leftEventId });
}

export async function updateRole(db: Executor, membershipId: number, role: Role): Promise<void> {
  await db('memberships').where({ id: membershipId }).update({ role });
}

export async function updateTitle(
  db: Executor,
  conversationId: number,
  title: string | null,
  at: string,
): Promise<void> {
  await db('conversations').where({ id: conversationId }).update({ title, updated_at: at });
}

export async function selectLastMessageIdOf(db: Executor, conversationId: number): Promise<number> {
  const row = await db('conversations').first('last_message_id').where({ id: conversationId });
  return Number(row?.last_message_id ?? 0);
}

/** The conversations a user is currently a member of. */
export async function selectCurrentConversationIds(db: Executor, userId: number): Promise<number[]> {
  const rows = await db('memberships')
    .select('conversation_id')
    .where({ user_id: userId })
    .whereNull('left_event_id');
  return rows.map((r: { conversation_id: number }) => Number(r.conversation_id));
}

/** Every member of a new conversation joins at the event that announced it. */
export async function setJoinedEvent(db: Executor, conversationId: number, eventId: number): Promise<void> {
  await db('memberships').where({ conversation_id: conversationId }).update({ joined_event_id: eventId });
}
