import { readConsistently } from '../../lib/events/log.ts';
import type { Db } from '../../lib/store/db.ts';
import { selectLogBounds } from '../../lib/store/events.ts';
import { isAfter } from '../../lib/store/position.ts';
import type { TestServer } from './server.ts';

/**
 * Statements that are not the measured work itself: connection set-up (`set search_path` on a
 * fresh PostgreSQL connection), transaction control (with the savepoints of a group commit), PostgreSQL's probe for events held back below
 * the horizon (it repeats while other writers are in flight), and the session check, which a node
 * caches after a token's first request.
 */
const NOT_THE_WORK =
  /^(set |begin|commit|rollback|savepoint |release |start transaction|SELECT EXISTS \(SELECT 1 FROM events)|from [`"]sessions[`"]/i;

/** How many database statements `work` runs, with its result: for specs that hold a path's cost flat. */
export async function countStatements<T>(
  db: Db,
  work: () => Promise<T>,
): Promise<{ statements: number; result: T }> {
  let statements = 0;
  const onQuery = (q: { sql: string }) => {
    if (!NOT_THE_WORK.test(q.sql)) statements++;
  };
  db.on('query', onQuery);
  try {
    const result = await work();
    return { statements, result };
  } finally {
    db.off('query', onQuery);
  }
}

/**
 * Waits until the node's hub has read the log up to its head: its reads after an earlier request
 * (the tail, the audiences) are not the next request's work, and can land while it is counted.
 */
export async function hubCaughtUp(server: TestServer): Promise<void> {
  const { db, hub } = server.parley.deps;
  const { head } = await readConsistently(db, selectLogBounds);
  while (isAfter(head, hub.tailPosition)) await new Promise((resolve) => setTimeout(resolve, 5));
}
