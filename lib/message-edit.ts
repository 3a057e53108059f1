import { type MessageJson, presentMessage } from './conversations.ts';
import type { Deps } from './deps.ts';
import { forbidden, notFound } from './errors.ts';
import { commitWithEvents, inConversation } from './events/log.ts';
import { selectMember } from './store/conversations.ts';
import { selectMessage, updateMessageBody } from './store/messages.ts';
import { nowIso } from './time.ts';

/** Changes the body of a message; only its sender may. Every member gets `message.updated`. */
export async function editMessage(
  deps: Deps,
  userId: number,
  conversationId: number,
  messageId: number,
  body: string,
): Promise<MessageJson> {
  const at = nowIso();
  const row = await commitWithEvents(inConversation(deps, conversationId), async (trx, record) => {
    const membership = await selectMember(trx, conversationId, userId);
    if (!membership) throw notFound('There is no such conversation among yours.');
    const message = await selectMessage(trx, conversationId, messageId);
    // A message from before the caller joined does not exist for them.
    if (!message || message.id <= membership.visible_after_message_id) {
      throw notFound(`There is no message ${messageId} in conversation ${conversationId}.`);
    }
    if (message.sender_id !== userId) throw forbidden('Only the sender can edit a message.');
    const edited = await updateMessageBody(trx, messageId, body, at);
    await record({ type: 'message.updated', conversationId, data: presentMessage(edited) });
    return edited;
  });
  return presentMessage(row);
}
