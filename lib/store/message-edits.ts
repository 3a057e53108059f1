import type { Executor } from './db.ts';
import type { MessageRow } from './messages.ts';

/** Replaces a message's body and stamps the edit. */
export async function updateMessageBody(
  db: Executor,
  messageId: number,
  body: string,
  at: string,
): Promise<MessageRow> {
  const [row] = await db('messages')
    .where({ id: messageId })
    .update({ body, edited_at: at })
    .returning([
      'id',
      'conversation_id',
      'sender_id',
      'body',
      'client_message_id',
      'created_at',
      'edited_at',
    ]);
  return row as MessageRow;
}
