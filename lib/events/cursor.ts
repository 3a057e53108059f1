import { badRequest } from '../errors.ts';

// A cursor is the id of the last event a client has seen, as a decimal string: opaque to clients,
// cheap to compare here.

export const encodeCursor = (eventId: number): string => String(eventId);

/** Parses a client's cursor; absent means "from now", anything malformed is a 400. */
export function decodeCursor(cursor: string | undefined): number | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  if (!/^(0|[1-9]\d{0,15})$/.test(cursor)) {
    throw badRequest('The event cursor is malformed: pass back an id or cursor exactly as received.');
  }
  return Number(cursor);
}
