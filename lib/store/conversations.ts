import type { Knex } from 'knex';
import type { Executor, Runner } from './db.ts';
import type { RecordEvent } from './events.ts';
import { endMembership } from './memberships.ts';
import { prepared } from './prepared.ts';
import type { UserRow } from './users.ts';

export interface ConversationRow {
  id: number;
  type: 'direct' | 'group';
  title: string | null;
  created_by: number;
  last_message_id: number | null;
  last_activity_at: string;
  created_at: string;
  updated_at: string;
  /** End-to-end encrypted (MLS): booleans come back as 0/1 from SQLite. */
  encrypted: boolean | number;
  epoch: number | string;
}

const COLUMNS = [
  'conversations.id',
  'conversations.type',
  'conversations.title',
  'conversations.created_by',
  'conversations.last_message_id',
  'conversations.last_activity_at',
  'conversations.created_at',
  'conversations.updated_at',
  'conversations.encrypted',
  'conversations.epoch',
];

export const directKey = (a: number, b: number): string => (a < b ? `${a}:${b}` : `${b}:${a}`);

export async function insertConversation(
  db: Executor,
  c: {
    type: 'direct' | 'group';
    title: string | null;
    createdBy: number;
    directKey: string | null;
    encrypted?: boolean;
    at: string;
  },
): Promise<ConversationRow> {
  const [row] = await db('conversations')
    .insert({
      type: c.type,
      title: c.title,
      created_by: c.createdBy,
      direct_key: c.directKey,
      encrypted: c.encrypted ?? false,
      last_activity_at: c.at,
      created_at: c.at,
      updated_at: c.at,
    })
    .returning(COLUMNS.map((c) => c.replace('conversations.', '')));
  return row as ConversationRow;
}

export async function selectConversation(
  db: Executor,
  conversationId: number,
): Promise<ConversationRow | undefined> {
  return db('conversations').first().where({ id: conversationId });
}

export async function selectDirectConversation(
  db: Executor,
  key: string,
): Promise<ConversationRow | undefined> {
  return db('conversations').first(COLUMNS).where({ direct_key: key });
}

export interface MemberRow {
  conversation_id: number;
  user_id: number;
  role: string;
  visible_after_message_id: number;
  last_read_message_id: number;
}

/**
 * A conversation as one member sees it: the conversation, their current membership, their unread
 * count, and the newest message they may see (`last_*`, null when there is none — a newcomer does
 * not see the message that was newest before they joined).
 */
export interface ConversationView extends ConversationRow, MemberRow {
  unread_count: number;
  last_id: number | null;
  last_sender_id: number;
  last_body: string;
  last_ciphertext: string | null;
  last_client_message_id: string | null;
  last_created_at: string;
  last_edited_at: string | null;
  /** Set when the member muted the conversation: their notification level is `none`. */
  muted_by: number | null;
}

/**
 * Current memberships joined with what a member's view shows (its last message, the member's unread
 * count and mute): one statement, whatever it shows.
 */
function memberViews(db: Executor) {
  return db('memberships')
    .join('conversations', 'conversations.id', 'memberships.conversation_id')
    .leftJoin('conversation_mutes as mute', function () {
      this.on('mute.user_id', 'memberships.user_id').andOn(
        'mute.conversation_id',
        'memberships.conversation_id',
      );
    })
    .leftJoin('messages as last', function () {
      this.on('last.id', 'conversations.last_message_id').andOn(
        'last.id',
        '>',
        'memberships.visible_after_message_id',
      );
    })
    .select([
      ...COLUMNS,
      'memberships.conversation_id',
      'memberships.user_id',
      'memberships.role',
      'memberships.visible_after_message_id',
      'memberships.last_read_message_id',
      db.raw('conversations.message_count - memberships.settled_count AS unread_count'),
      'last.id as last_id',
      'last.sender_id as last_sender_id',
      'last.body as last_body',
      'last.ciphertext as last_ciphertext',
      'last.client_message_id as last_client_message_id',
      'last.created_at as last_created_at',
      'last.edited_at as last_edited_at',
      'mute.user_id as muted_by',
    ])
    .whereNull('memberships.left_event_id');
}

/** The user's current membership of a conversation alone (a primary-key lookup); undefined if none. */
export async function selectMember(
  db: Runner,
  conversationId: number,
  userId: number,
): Promise<MemberRow | undefined> {
  const [row] = await selectMemberStatement.rows<MemberRow>(db, { conversationId, userId });
  return row;
}

// Asked by most requests about a conversation: built once (lib/store/prepared.ts).
const selectMemberStatement = prepared(['conversationId', 'userId'], (db, p) =>
  db('memberships')
    .first('conversation_id', 'user_id', 'role', 'visible_after_message_id', 'last_read_message_id')
    .where({ conversation_id: p.conversationId, user_id: p.userId })
    .whereNull('left_event_id'),
);

/** The user's view of a conversation they are a member of now; undefined if they are not. */
export async function selectMemberView(
  db: Runner,
  conversationId: number,
  userId: number,
): Promise<ConversationView | undefined> {
  const [row] = await selectMemberViewStatement.rows<ConversationView>(db, { conversationId, userId });
  return row;
}

// Every history page and most changes to a conversation ask: built once (lib/store/prepared.ts).
const selectMemberViewStatement = prepared(['conversationId', 'userId'], (db, p) =>
  memberViews(db)
    .where({ 'memberships.conversation_id': p.conversationId, 'memberships.user_id': p.userId })
    .first(),
);

/** One page of the user's conversations, most recent activity first, after the (at, id) position. */
export async function selectConversationsOf(
  db: Executor,
  userId: number,
  opts: { after: { at: string; id: number } | null; limit: number },
): Promise<ConversationView[]> {
  const q = memberViews(db).where('memberships.user_id', userId);
  if (opts.after) {
    const { at, id } = opts.after;
    q.andWhere((w) =>
      w
        .where('conversations.last_activity_at', '<', at)
        .orWhere((x) => x.where('conversations.last_activity_at', at).andWhere('conversations.id', '<', id)),
    );
  }
  return q
    .orderBy([
      { column: 'conversations.last_activity_at', order: 'desc' },
      { column: 'conversations.id', order: 'desc' },
    ])
    .limit(opts.limit);
}

export interface ParticipantRow {
  conversation_id: number;
  id: number;
  username: string;
  display_name: string;
  avatar_url: string | null;
  role: 'owner' | 'admin' | 'member';
}

/** Participants of a conversation as shown embedded: the first few, and how many there are. */
export interface ShownParticipantRow extends ParticipantRow {
  participant_count: number | string;
}

const PARTICIPANT_COLUMNS = [
  'memberships.conversation_id',
  'users.id',
  'users.username',
  'users.display_name',
  'users.avatar_url',
  'memberships.role',
];

const currentParticipants = (db: Executor) =>
  db('memberships').join('users', 'users.id', 'memberships.user_id').whereNull('memberships.left_event_id');

/**
 * The longest-standing `perConversation` current participants of the conversations `among` picks,
 * each with its conversation's participant count, in one query: what a conversation shows stays
 * bounded however big the group is.
 */
function shownParticipants(
  db: Knex,
  among: (q: Knex.QueryBuilder) => Knex.QueryBuilder,
  perConversation: Knex.Value,
): Knex.QueryBuilder {
  const ranked = among(
    currentParticipants(db).select([
      ...PARTICIPANT_COLUMNS,
      db.raw('ROW_NUMBER() OVER (PARTITION BY memberships.conversation_id ORDER BY memberships.id) AS seat'),
      db.raw('COUNT(*) OVER (PARTITION BY memberships.conversation_id) AS participant_count'),
    ]),
  );
  return db
    .select('conversation_id', 'id', 'username', 'display_name', 'avatar_url', 'role', 'participant_count')
    .from(ranked.as('ranked'))
    .where('seat', '<=', perConversation)
    .orderBy([{ column: 'conversation_id' }, { column: 'seat' }]);
}

/** shownParticipants of several conversations (a page of the conversation list). */
export async function selectParticipants(
  db: Executor,
  conversationIds: readonly number[],
  perConversation: number,
): Promise<ShownParticipantRow[]> {
  if (conversationIds.length === 0) return [];
  return shownParticipants(
    db,
    (q) => q.whereIn('memberships.conversation_id', conversationIds),
    perConversation,
  );
}

/** shownParticipants of one conversation (a history page, a conversation's own view). */
export async function selectParticipantsOf(
  db: Runner,
  conversationId: number,
  perConversation: number,
): Promise<ShownParticipantRow[]> {
  return participantsOfStatement.rows<ShownParticipantRow>(db, { conversationId, perConversation });
}

// Built once (lib/store/prepared.ts).
const participantsOfStatement = prepared(['conversationId', 'perConversation'], (db, p) =>
  shownParticipants(db, (q) => q.where('memberships.conversation_id', p.conversationId), p.perConversation),
);

/** One page of a conversation's current participants, longest-standing first, after a membership id. */
export async function selectParticipantsPage(
  db: Executor,
  conversationId: number,
  opts: { afterMembershipId: number; limit: number },
): Promise<(ParticipantRow & Pick<UserRow, 'presence' | 'last_seen_at'> & { membership_id: number })[]> {
  return currentParticipants(db)
    .select([
      ...PARTICIPANT_COLUMNS,
      'users.presence',
      'users.last_seen_at',
      'memberships.id as membership_id',
    ])
    .where('memberships.conversation_id', conversationId)
    .andWhere('memberships.id', '>', opts.afterMembershipId)
    .orderBy('memberships.id')
    .limit(opts.limit);
}

export async function selectMemberIds(db: Executor, conversationId: number): Promise<number[]> {
  const rows = await db('memberships')
    .select('user_id')
    .where({ conversation_id: conversationId })
    .whereNull('left_event_id');
  return rows.map((r: { user_id: number }) => r.user_id);
}

/** The user and everyone who currently shares a conversation with them. */
export async function selectContactIds(db: Executor, userId: number): Promise<number[]> {
  const rows = await db('memberships as mine')
    .join('memberships as theirs', 'theirs.conversation_id', 'mine.conversation_id')
    .distinct('theirs.user_id')
    .where('mine.user_id', userId)
    .whereNull('mine.left_event_id')
    .whereNull('theirs.left_event_id');
  const ids = new Set(rows.map((r: { user_id: number }) => r.user_id));
  ids.add(userId);
  return [...ids];
}

/** Which of `userIds` share a current conversation with `viewerId` (the viewer counts as one). */
export async function selectContactsAmong(
  db: Executor,
  viewerId: number,
  userIds: number[],
): Promise<Set<number>> {
  const rows = await db('memberships as mine')
    .join('memberships as theirs', 'theirs.conversation_id', 'mine.conversation_id')
    .distinct('theirs.user_id')
    .where('mine.user_id', viewerId)
    .whereNull('mine.left_event_id')
    .whereNull('theirs.left_event_id')
    .whereIn('theirs.user_id', userIds);
  const ids = new Set(rows.map((r: { user_id: number }) => r.user_id));
  ids.add(viewerId);
  return ids;
}

/**
 * Who hears of each subject's presence among `viewerIds`: the viewers who share a current
 * conversation of at most `groupLimit` members with the subject, and the subject themself.
 * Chunked, to stay under the databases' limits on bound parameters however many viewers a node serves.
 */
export async function selectPresenceAudiences(
  db: Executor,
  subjectIds: readonly number[],
  viewerIds: readonly number[],
  groupLimit: number,
): Promise<Map<number, Set<number>>> {
  const CHUNK = 500;
  const viewers = new Set(viewerIds);
  const audiences = new Map(subjectIds.map((id) => [id, new Set(viewers.has(id) ? [id] : [])]));
  for (let s = 0; s < subjectIds.length; s += CHUNK) {
    for (let v = 0; v < viewerIds.length; v += CHUNK) {
      const rows = await db('memberships as subject')
        .join('conversations as c', 'c.id', 'subject.conversation_id')
        .join('memberships as viewer', 'viewer.conversation_id', 'subject.conversation_id')
        .where('c.member_count', '<=', groupLimit)
        .distinct('subject.user_id as subject_id', 'viewer.user_id as viewer_id')
        .whereIn('subject.user_id', subjectIds.slice(s, s + CHUNK))
        .whereIn('viewer.user_id', viewerIds.slice(v, v + CHUNK))
        .whereNull('subject.left_event_id')
        .whereNull('viewer.left_event_id');
      for (const r of rows as { subject_id: number; viewer_id: number }[]) {
        audiences.get(Number(r.subject_id))?.add(Number(r.viewer_id));
      }
    }
  }
  return audiences;
}

/** Ends all of a user's memberships (account deletion), telling each conversation. */
export async function endMembershipsOf(db: Executor, userId: number, record: RecordEvent): Promise<void> {
  const rows = await db('memberships')
    .select('id', 'conversation_id')
    .where({ user_id: userId })
    .whereNull('left_event_id');
  for (const row of rows as { id: number; conversation_id: number }[]) {
    const eventId = await record({
      type: 'participant.removed',
      conversationId: row.conversation_id,
      data: { conversationId: String(row.conversation_id), userId: String(userId) },
    });
    await endMembership(db, { id: row.id, conversationId: row.conversation_id }, eventId);
  }
}

/**
 * Takes a deleted message out of the conversation: points it at its newest remaining message and
 * lowers the counters behind unread counts. Its place in members' lists (last_activity_at) stays;
 * updated_at moves forward, never back.
 */
export async function forgetMessage(
  db: Executor,
  conversationId: number,
  deleted: { id: number; sender_id: number },
  lastMessageId: number | null,
  at: string,
): Promise<void> {
  await db('conversations')
    .where({ id: conversationId })
    .update({
      last_message_id: lastMessageId,
      message_count: db.raw('message_count - 1'),
      // CASE, not max()/GREATEST(): the same SQL on SQLite and PostgreSQL.
      updated_at: db.raw('CASE WHEN updated_at < ? THEN ? ELSE updated_at END', [at, at]),
    });
  // Members for whom it was settled (read, from before they joined, or their own) settle one fewer.
  await db('memberships')
    .where({ conversation_id: conversationId })
    .whereNull('left_event_id')
    .andWhere((q) =>
      q
        .where('user_id', deleted.sender_id)
        .orWhere('last_read_message_id', '>=', deleted.id)
        .orWhere('visible_after_message_id', '>=', deleted.id),
    )
    .update({ settled_count: db.raw('settled_count - 1') });
}

/**
 * Records a new newest message: moves the conversation to the top of its members' lists and
 * counts the message; the sender has read everything up to their own message.
 */
export async function addMessageToConversation(
  db: Runner,
  conversationId: number,
  senderId: number,
  messageId: number,
  at: string,
): Promise<void> {
  await countMessageStatement.changes(db, { conversationId, messageId, at });
  await settleSenderStatement.changes(db, { conversationId, senderId, messageId });
}

// The two writes of every send: built once (lib/store/prepared.ts).
const countMessageStatement = prepared(['conversationId', 'messageId', 'at'], (db, p) =>
  db('conversations')
    .where({ id: p.conversationId })
    .update({
      last_activity_at: p.at,
      updated_at: p.at,
      last_message_id: p.messageId,
      message_count: db.raw('message_count + 1'),
    }),
);
// Every message so far is now either read by the sender or theirs: all settled.
const settleSenderStatement = prepared(['conversationId', 'senderId', 'messageId'], (db, p) =>
  db('memberships')
    .where({ conversation_id: p.conversationId, user_id: p.senderId })
    .whereNull('left_event_id')
    .update({
      last_read_message_id: p.messageId,
      settled_count: db('conversations').select('message_count').where({ id: p.conversationId }),
    }),
);

/**
 * Recounts what a member has settled after their read mark moved: every message but the others'
 * messages still after the mark. Costs a scan of what stays unread, usually nothing.
 */
export async function resettle(db: Executor, membershipId: number): Promise<void> {
  await db('memberships')
    .where({ id: membershipId })
    .update({
      settled_count: db.raw(
        `(SELECT c.message_count FROM conversations c WHERE c.id = memberships.conversation_id)
         - (SELECT COUNT(*) FROM messages msg
             WHERE msg.conversation_id = memberships.conversation_id
               AND msg.id > memberships.last_read_message_id
               AND msg.id > memberships.visible_after_message_id
               AND msg.sender_id <> memberships.user_id)`,
      ),
    });
}
