/**
 * Where a subscription keeps its cursor: the id of the last event it delivered (or the cursor a
 * poll answered). Persist it (a file, IndexedDB, localStorage, a database row next to the state it
 * describes) and a restarted app resumes exactly where it stopped.
 *
 * `save` is awaited after each event is handled and before the next one is, so a crash between
 * the two repeats at most the event being handled, never skips one.
 */
export interface CursorStore {
  load(): Promise<string | undefined>;
  save(cursor: string): Promise<void>;
}

/** Keeps the cursor in memory: resumes across reconnects and transport switches, not across restarts. */
export function memoryCursorStore(initial?: string): CursorStore & { readonly cursor: string | undefined } {
  let cursor = initial;
  return {
    get cursor() {
      return cursor;
    },
    load: async () => cursor,
    save: async (next) => {
      cursor = next;
    },
  };
}
