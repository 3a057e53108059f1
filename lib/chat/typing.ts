import type { Store } from '../events/log.ts';
import { noSuchConversation } from '../http/problems.ts';
import { selectMember, selectMemberIds } from '../store/conversations.ts';

// How long a typing notice holds: clients repeat it every few seconds while the user types, and a
// receiver clears the indicator at expiresAt if no new one came (the user stopped, or went away).
export const TYPING_TTL_MS = 6000;

/**
 * Tells the other members that the caller is typing. Ephemeral: it goes over the bus to open
 * streams and waiting polls only — no cursor, never stored, never replayed on resume.
 */
export async function announceTyping(deps: Store, userId: number, conversationId: number): Promise<void> {
  if (!(await selectMember(deps.db, conversationId, userId))) {
    throw noSuchConversation();
  }
  const others = (await selectMemberIds(deps.db, conversationId)).filter((id) => id !== userId);
  const now = Date.now();
  deps.bus.publish({
    kind: 'ephemeral',
    type: 'typing',
    userIds: others,
    at: new Date(now).toISOString(),
    data: {
      conversationId: String(conversationId),
      userId: String(userId),
      expiresAt: new Date(now + TYPING_TTL_MS).toISOString(),
    },
  });
}
