import type { Executor, Runner } from './db.ts';
import { prepared } from './prepared.ts';

export interface MessageRow {
  id: number;
  conversation_id: number;
  sender_id: number;
  /** '' for an encrypted message, whose content is `ciphertext`. */
  body: string;
  ciphertext: string | null;
  client_message_id: string | null;
  created_at: string;
  edited_at: string | null;
}

const COLUMNS = [
  'id',
  'conversation_id',
  'sender_id',
  'body',
  'ciphertext',
  'client_message_id',
  'created_at',
  'edited_at',
];

const MESSAGE_PARAMS = ['conversationId', 'senderId', 'body', 'ciphertext', 'clientMessageId', 'at'] as const;

// Every send: built once (lib/store/prepared.ts). CASTs, not bare parameters: PostgreSQL types a
// SELECT list's parameters as text.
const insertMessageStatement = prepared(MESSAGE_PARAMS, (db, p) =>
  db.raw(
    `INSERT INTO messages (conversation_id, sender_id, body, ciphertext, client_message_id, created_at)
     SELECT CAST(? AS INTEGER), CAST(? AS INTEGER), ?, ?, ?, ?
      WHERE EXISTS (SELECT 1 FROM memberships
                     WHERE conversation_id = ? AND user_id = ? AND left_event_id IS NULL)
     RETURNING ${COLUMNS.join(', ')}`,
    [
      p.conversationId,
      p.senderId,
      p.body,
      p.ciphertext,
      p.clientMessageId,
      p.at,
      p.conversationId,
      p.senderId,
    ],
  ),
);

/**
 * Appends a message if its sender is a current member of the conversation, in one statement (the
 * membership check rides on the insert); undefined if they are not a member.
 */
export async function insertMessageByMember(
  db: Runner,
  m: {
    conversationId: number;
    senderId: number;
    body: string;
    ciphertext: string | null;
    clientMessageId: string | null;
    at: string;
  },
): Promise<MessageRow | undefined> {
  const [row] = await insertMessageStatement.rows<MessageRow>(db, m);
  return row;
}

export async function selectMessageByClientId(
  db: Runner,
  conversationId: number,
  senderId: number,
  clientMessageId: string,
): Promise<MessageRow | undefined> {
  const [row] = await selectByClientIdStatement.rows<MessageRow>(db, {
    conversationId,
    senderId,
    clientMessageId,
  });
  return row;
}

// A send's retry check: built once (lib/store/prepared.ts).
const selectByClientIdStatement = prepared(['conversationId', 'senderId', 'clientMessageId'], (db, p) =>
  db('messages').first(COLUMNS).where({
    conversation_id: p.conversationId,
    sender_id: p.senderId,
    client_message_id: p.clientMessageId,
  }),
);

export async function selectMessage(
  db: Executor,
  conversationId: number,
  messageId: number,
): Promise<MessageRow | undefined> {
  return db('messages').first(COLUMNS).where({ conversation_id: conversationId, id: messageId });
}

export async function selectMessagesByIds(db: Executor, ids: readonly number[]): Promise<MessageRow[]> {
  if (ids.length === 0) return [];
  return db('messages').select(COLUMNS).whereIn('id', ids);
}

/**
 * A page of history, oldest first. `before`/`after` are message ids; without either, the newest
 * page. Fetches one extra row to tell whether more exist in the paging direction.
 */
export async function selectHistory(
  db: Runner,
  conversationId: number,
  opts: { visibleAfter: number; before?: number | undefined; after?: number | undefined; limit: number },
): Promise<{ rows: MessageRow[]; hasMore: boolean }> {
  const ascending = opts.after !== undefined && opts.before === undefined;
  const statement = ascending ? pageUp : opts.before === undefined ? newestPage : pageDown;
  const rows = await statement.rows<MessageRow>(db, {
    conversationId,
    above: Math.max(opts.visibleAfter, opts.after ?? 0),
    below: opts.before ?? null,
    limit: opts.limit + 1,
  });
  const hasMore = rows.length > opts.limit;
  const page = rows.slice(0, opts.limit);
  return { rows: ascending ? page : page.reverse(), hasMore };
}

/**
 * The shapes of a history page, each built once (lib/store/prepared.ts): ids above `above` — and,
 * paging back, below `below` — newest first, or oldest first paging forward. Raw for its LIMIT,
 * which knex's builder only takes as a number.
 */
const historyPage = (order: 'ASC' | 'DESC', bounded: boolean) =>
  prepared(['conversationId', 'above', 'below', 'limit'], (db, p) =>
    db.raw(
      `SELECT ${COLUMNS.join(', ')} FROM messages
        WHERE conversation_id = ? AND id > ? ${bounded ? 'AND id < ?' : ''}
        ORDER BY id ${order} LIMIT ?`,
      [p.conversationId, p.above, ...(bounded ? [p.below] : []), p.limit],
    ),
  );
const newestPage = historyPage('DESC', false);
const pageDown = historyPage('DESC', true);
const pageUp = historyPage('ASC', false);

/** Deletes a message; returns how many rows went (0 when a concurrent delete got there first). */
export async function deleteMessageRow(db: Executor, messageId: number): Promise<number> {
  return db('messages').where({ id: messageId }).delete();
}

export async function selectLastMessageId(db: Executor, conversationId: number): Promise<number | null> {
  const row = await db('messages').where({ conversation_id: conversationId }).max({ last: 'id' }).first();
  return row?.last ? Number(row.last) : null;
}

/** Replaces a message's body (or, encrypted, its ciphertext) and stamps the edit. */
export async function updateMessageBody(
  db: Executor,
  messageId: number,
  content: { body: string; ciphertext: string | null },
  at: string,
): Promise<MessageRow> {
  const [row] = await db('messages')
    .where({ id: messageId })
    .update({ body: content.body, ciphertext: content.ciphertext, edited_at: at })
    .returning(COLUMNS);
  return row as MessageRow;
}
