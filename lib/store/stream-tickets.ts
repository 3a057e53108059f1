import { type Executor, rowsOf } from './db.ts';

export interface StreamTicketRow {
  /** The SHA-256 of the ticket, hex: the ticket itself is never stored. */
  id: string;
  session_id: string;
  expires_at: string;
}

export async function insertStreamTicket(db: Executor, ticket: StreamTicketRow): Promise<void> {
  await db('stream_tickets').insert(ticket);
}

/**
 * Deletes the ticket and returns its session id if it had not expired. One statement, so two nodes
 * redeeming the same ticket at once cannot both get it: the second deletes nothing.
 */
export async function consumeStreamTicket(
  db: Executor,
  id: string,
  nowIso: string,
): Promise<string | undefined> {
  // Raw: knex drops RETURNING from a DELETE on better-sqlite3; both engines support the SQL.
  const rows = rowsOf<{ session_id: string; expires_at: string }>(
    await db.raw('DELETE FROM stream_tickets WHERE id = ? RETURNING session_id, expires_at', [id]),
  );
  const row = rows[0];
  return row && row.expires_at > nowIso ? row.session_id : undefined;
}

/** How many unexpired tickets a session holds (the issuer caps them). */
export async function countLiveStreamTickets(
  db: Executor,
  sessionId: string,
  nowIso: string,
): Promise<number> {
  const row = await db('stream_tickets')
    .where({ session_id: sessionId })
    .where('expires_at', '>', nowIso)
    .count<{ n: number | string }>({ n: '*' })
    .first();
  return Number(row?.n ?? 0);
}

/** Deletes expired tickets; returns how many. */
export async function pruneStreamTickets(db: Executor, nowIso: string): Promise<number> {
  return db('stream_tickets').where('expires_at', '<=', nowIso).delete();
}
