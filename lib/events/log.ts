import type { Knex } from 'knex';
import type { Db } from '../store/db.ts';
import { insertEvent, type NewEvent } from '../store/events.ts';
import { nowIso } from '../time.ts';
import type { Bus } from './bus.ts';

export type RecordEvent = (event: NewEvent) => Promise<number>;

/**
 * Runs `work` in one transaction in which it records the events describing its change, so the
 * change and its events commit together; then wakes the readers. Publishing only after commit
 * means a woken reader always finds the events it was woken for.
 */
export async function commitWithEvents<T>(
  deps: { db: Db; bus: Bus },
  work: (trx: Knex.Transaction, record: RecordEvent) => Promise<T>,
): Promise<T> {
  let recorded = 0;
  const result = await deps.db.transaction((trx) =>
    work(trx, (event) => {
      recorded++;
      return insertEvent(trx, event, nowIso());
    }),
  );
  if (recorded > 0) deps.bus.publish({ kind: 'log' });
  return result;
}
