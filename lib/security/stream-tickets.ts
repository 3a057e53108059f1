import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../store/db.ts';
import { selectLiveSession } from '../store/sessions.ts';
import {
  consumeStreamTicket,
  countLiveStreamTickets,
  insertStreamTicket,
  pruneStreamTickets,
} from '../store/stream-tickets.ts';
import type { Session } from './sessions.ts';

/** Long enough to open an EventSource right after asking for the ticket; short enough that a leaked
 * URL (a proxy's access log, the browser's history) is useless by the time anyone reads it. */
export const STREAM_TICKET_TTL_MS = 60_000;

/** Unexpired tickets one session may hold: a reconnect takes one, a tab opens one stream at a time;
 * the bound keeps a client in a loop from filling the table. */
export const STREAM_TICKETS_PER_SESSION = 20;

/** 32 random bytes, base64url: 43 characters. */
const TICKET = /^[A-Za-z0-9_-]{43}$/;

const digest = (ticket: string): string => createHash('sha256').update(ticket).digest('hex');

export type IssueResult =
  | { ticket: string; expiresAt: string }
  | { tooMany: true; retryAfterSeconds: number };

/** Issues a ticket for this session, unless it already holds STREAM_TICKETS_PER_SESSION live ones. */
export async function issueStreamTicket(db: Db, session: Session, now = Date.now()): Promise<IssueResult> {
  const nowIso = new Date(now).toISOString();
  // Expired tickets of every session go here, in passing: the table stays as small as the tickets
  // issued in the last minute, without a timer of its own.
  await pruneStreamTickets(db, nowIso);
  if ((await countLiveStreamTickets(db, session.id, nowIso)) >= STREAM_TICKETS_PER_SESSION) {
    return { tooMany: true, retryAfterSeconds: STREAM_TICKET_TTL_MS / 1000 };
  }
  const ticket = randomBytes(32).toString('base64url');
  const expiresAt = new Date(now + STREAM_TICKET_TTL_MS).toISOString();
  await insertStreamTicket(db, { id: digest(ticket), session_id: session.id, expires_at: expiresAt });
  return { ticket, expiresAt };
}

/**
 * The session a ticket was issued to, consuming the ticket; null for an unknown, used or expired
 * ticket, or one whose session has since been revoked or expired (its tickets die with it).
 */
export async function redeemStreamTicket(db: Db, ticket: string, now = Date.now()): Promise<Session | null> {
  if (!TICKET.test(ticket)) return null;
  const nowIso = new Date(now).toISOString();
  const sessionId = await consumeStreamTicket(db, digest(ticket), nowIso);
  if (!sessionId) return null;
  const session = await selectLiveSession(db, sessionId, nowIso);
  return session ? { id: session.id, userId: session.user_id } : null;
}
