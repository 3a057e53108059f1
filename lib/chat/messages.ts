import type { z } from 'zod';
import type { Store } from '../events/log.ts';
import { commitPreparedWithEvents, commitWithEvents, inConversation } from '../events/log.ts';
import { forbidden, invalid, noSuchMessage } from '../http/problems.ts';
import type { Message } from '../http/schemas.ts';
import { addMessageToConversation, forgetMessage } from '../store/conversations.ts';
import type { Executor, Runner } from '../store/db.ts';
import { isUniqueViolation } from '../store/db.ts';
import { deleteMessageEvents, rewriteMessageEvents } from '../store/events.ts';
import {
  deleteMessageRow,
  insertMessageByMember,
  type MessageRow,
  selectLastMessageId,
  selectMessage,
  selectMessageByClientId,
  updateMessageBody,
} from '../store/messages.ts';
import { selectEncryption } from '../store/mls.ts';
import { nowIso } from '../util/time.ts';
import { memberOf, mustBeMember } from './access.ts';

export type MessageJson = z.output<typeof Message>;

export const presentMessage = (m: MessageRow): MessageJson => ({
  id: String(m.id),
  conversationId: String(m.conversation_id),
  senderId: String(m.sender_id),
  // An encrypted message has no text on the server: its body is null and its content the ciphertext.
  body: m.ciphertext === null ? m.body : null,
  ciphertext: m.ciphertext,
  clientMessageId: m.client_message_id,
  createdAt: m.created_at,
  editedAt: m.edited_at,
});

/** What a message says: text in a plain conversation, an MLS ciphertext in an encrypted one. */
export interface MessageContent {
  body?: string | undefined;
  ciphertext?: string | undefined;
}

/**
 * The content as stored, after checking it fits the conversation (400 otherwise: a plain body in
 * an encrypted conversation is refused, never stored). A non-member gets 404 first, so the answer
 * says nothing about a conversation they are not in.
 */
async function contentFor(
  trx: Runner,
  conversationId: number,
  userId: number,
  input: MessageContent,
): Promise<{ body: string; ciphertext: string | null }> {
  const encrypted = (await selectEncryption(trx, conversationId))?.encrypted ?? false;
  if (encrypted && input.ciphertext !== undefined && input.body === undefined) {
    return { body: '', ciphertext: input.ciphertext };
  }
  if (!encrypted && input.body !== undefined && input.ciphertext === undefined) {
    return { body: input.body, ciphertext: null };
  }
  await memberOf(trx, conversationId, userId);
  throw encrypted
    ? invalid('This conversation is end-to-end encrypted: send `ciphertext`, never `body`.', [
        {
          path: input.body === undefined ? 'ciphertext' : 'body',
          message: 'an encrypted conversation takes `ciphertext` only',
        },
      ])
    : invalid('This conversation is not end-to-end encrypted: send `body`.', [
        {
          path: input.ciphertext === undefined ? 'body' : 'ciphertext',
          message: 'a plain conversation takes `body` only',
        },
      ]);
}

/** Appends a message; a repeated clientMessageId from the same sender returns the first one. */
export async function sendMessage(
  deps: Store,
  senderId: number,
  conversationId: number,
  input: MessageContent & { clientMessageId?: string | undefined },
): Promise<{ message: MessageJson; created: boolean }> {
  const clientMessageId = input.clientMessageId ?? null;
  const repeated = async (db: Runner) =>
    clientMessageId ? selectMessageByClientId(db, conversationId, senderId, clientMessageId) : undefined;
  try {
    // Everything under the conversation's lock: it orders concurrent senders, so ids, events and
    // commits agree, and a removal that committed before it wins over this send. Every statement
    // of a send is prepared, so it commits without knex's per-transaction cost.
    return await commitPreparedWithEvents(inConversation(deps, conversationId), async (trx, record) => {
      if (clientMessageId) {
        // Checked first: a removed member repeating an old clientMessageId gets 404, not that message.
        await memberOf(trx, conversationId, senderId);
        const earlier = await repeated(trx);
        if (earlier) return { message: presentMessage(earlier), created: false };
      }
      const content = await contentFor(trx, conversationId, senderId, input);
      // Read the clock under the lock too, so createdAt never runs backwards against message order.
      const at = nowIso();
      const row = mustBeMember(
        await insertMessageByMember(trx, { conversationId, senderId, ...content, clientMessageId, at }),
      );
      await addMessageToConversation(trx, conversationId, senderId, row.id, at);
      const message = presentMessage(row);
      await record({ type: 'message.created', conversationId, messageId: row.id, data: message });
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

/** A message of a conversation the caller is in, sent after they joined; 404 otherwise. */
async function visibleMessage(
  db: Executor,
  userId: number,
  conversationId: number,
  messageId: number,
): Promise<MessageRow> {
  const membership = await memberOf(db, conversationId, userId);
  const message = await selectMessage(db, conversationId, messageId);
  // A message from before the caller joined does not exist for them.
  if (!message || message.id <= membership.visible_after_message_id) {
    throw noSuchMessage(conversationId, messageId);
  }
  return message;
}

/** One message, as a member sees it (the `Location` of a sent message). */
export async function getMessage(
  deps: Store,
  userId: number,
  conversationId: number,
  messageId: number,
): Promise<MessageJson> {
  return presentMessage(await visibleMessage(deps.db, userId, conversationId, messageId));
}

export async function deleteMessage(
  deps: Store,
  userId: number,
  conversationId: number,
  messageId: number,
): Promise<void> {
  await commitWithEvents(inConversation(deps, conversationId), async (trx, record) => {
    // Checked under the conversation's lock: a member removed meanwhile can no longer delete.
    const message = await visibleMessage(trx, userId, conversationId, messageId);
    if (message.sender_id !== userId) throw forbidden('Only the sender can delete a message.');
    // Checked again as it is deleted: of several concurrent deletes only one records an event.
    if ((await deleteMessageRow(trx, messageId)) === 0) {
      throw noSuchMessage(conversationId, messageId);
    }
    await forgetMessage(
      trx,
      conversationId,
      message,
      await selectLastMessageId(trx, conversationId),
      nowIso(),
    );
    // Its earlier events go with it: no replay returns its text, only the message.deleted below.
    await deleteMessageEvents(trx, messageId);
    await record({
      type: 'message.deleted',
      conversationId,
      data: { conversationId: String(conversationId), messageId: String(messageId) },
    });
  });
}

/**
 * Changes the body of a message — or, in an encrypted conversation, replaces its ciphertext with a
 * new one; only its sender may. Every member gets `message.updated`.
 */
export async function editMessage(
  deps: Store,
  userId: number,
  conversationId: number,
  messageId: number,
  input: MessageContent,
): Promise<MessageJson> {
  const at = nowIso();
  const row = await commitWithEvents(inConversation(deps, conversationId), async (trx, record) => {
    const message = await visibleMessage(trx, userId, conversationId, messageId);
    if (message.sender_id !== userId) throw forbidden('Only the sender can edit a message.');
    const content = await contentFor(trx, conversationId, userId, input);
    const edited = await updateMessageBody(trx, messageId, content, at);
    // The earlier events of this message show it as it is now: no replay returns the old text.
    await rewriteMessageEvents(trx, messageId, presentMessage(edited));
    await record({ type: 'message.updated', conversationId, messageId, data: presentMessage(edited) });
    return edited;
  });
  return presentMessage(row);
}
