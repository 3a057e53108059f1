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

const MEMBERSHIP_CHUNK = 100; // rows per INSERT: 9 bound parameters each, under SQLite's limits

/**
 * New members of a conversation, each joining at its own event (they see the log after it), and
 * counted in the conversation's `member_count`. What was there before they joined — up to
 * `visibleAfterMessageId` — is neither unread nor undelivered for them.
 */
export async function insertMemberships(
  db: Executor,
  conversationId: number,
  members: readonly { userId: number; role: Role; joinedEventId: number }[],
  visibleAfterMessageId: number,
  at: string,
): Promise<void> {
  if (members.length === 0) return;
  const { message_count } = await db('conversations').first('message_count').where({ id: conversationId });
  // In chunks: knex writes a multi-row INSERT on SQLite as one compound SELECT, and SQLite allows at
  // most 500 terms in one (SQLITE_MAX_COMPOUND_SELECT); a group may have thousands of members.
  for (let i = 0; i < members.length; i += MEMBERSHIP_CHUNK) {
    await db('memberships').insert(
      members.slice(i, i + MEMBERSHIP_CHUNK).map((m) => ({
        conversation_id: conversationId,
        user_id: m.userId,
        role: m.role,
        joined_at: at,
        joined_event_id: m.joinedEventId,
        visible_after_message_id: visibleAfterMessageId,
        last_read_message_id: visibleAfterMessageId,
        last_delivered_message_id: visibleAfterMessageId,
        // …and so every message so far is settled: none counts as unread.
        settled_count: message_count,
      })),
    );
  }
  await db('conversations').where({ id: conversationId }).increment('member_count', members.length);
}

/** Closes a membership period at the event that announced the leaving. */
export async function endMembership(
  db: Executor,
  membership: { id: number; conversationId: number },
  leftEventId: number,
): Promise<void> {
  await db('memberships').where({ id: membership.id }).update({ left_event_id: leftEventId });
  await db('conversations').where({ id: membership.conversationId }).decrement('member_count', 1);
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
