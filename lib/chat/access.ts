import { noSuchConversation } from '../http/problems.ts';
import {
  type ConversationView,
  type MemberRow,
  selectMember,
  selectMemberView,
} from '../store/conversations.ts';
import type { Runner } from '../store/db.ts';

/** The caller's view of a conversation, or 404 — a conversation you are not in does not exist for you. */
export async function memberViewOf(
  db: Runner,
  conversationId: number,
  userId: number,
): Promise<ConversationView> {
  return mustBeMember(await selectMemberView(db, conversationId, userId));
}

/** The caller's membership alone (cheaper than their view), or 404. */
export async function memberOf(db: Runner, conversationId: number, userId: number): Promise<MemberRow> {
  return mustBeMember(await selectMember(db, conversationId, userId));
}

/** What was found for a member, or 404: "not a member", "no such id" and "not an id" look alike. */
export function mustBeMember<T>(found: T | undefined): T {
  if (!found) throw noSuchConversation();
  return found;
}
