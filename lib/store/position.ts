/**
 * A place in the event log; a client's cursor is one, encoded. Events are ordered by `tx`, then
 * `id`. On SQLite `tx` is always 0: its single writer commits ids in order. On PostgreSQL `tx` is
 * the inserting transaction's id, and readers only read below the oldest transaction still
 * running, so an event committed late by a slow transaction is never skipped (store/events.ts).
 */
export interface Position {
  readonly tx: number;
  readonly id: number;
}

export const ORIGIN: Position = Object.freeze({ tx: 0, id: 0 });

export const isAfter = (a: Position, b: Position): boolean => a.tx > b.tx || (a.tx === b.tx && a.id > b.id);

export const samePosition = (a: Position, b: Position): boolean => a.tx === b.tx && a.id === b.id;

export const latest = (a: Position, b: Position): Position => (isAfter(a, b) ? a : b);

/** Opaque to clients: `<id>` on SQLite, `<tx>-<id>` on PostgreSQL. */
export const encodeCursor = (p: Position): string => (p.tx === 0 ? String(p.id) : `${p.tx}-${p.id}`);

const CURSOR = /^(?:(0|[1-9]\d{0,15})-)?(0|[1-9]\d{0,15})$/;

/** Parses a client's cursor: undefined when absent ("from now"), 'malformed' for anything else not ours. */
export function decodeCursor(cursor: string | undefined): Position | undefined | 'malformed' {
  if (cursor === undefined || cursor === '') return undefined;
  const match = CURSOR.exec(cursor);
  if (!match) return 'malformed';
  return { tx: Number(match[1] ?? 0), id: Number(match[2]) };
}
