import type { Knex } from 'knex';

export type Db = Knex;
/** The database or an open transaction: every store function takes one of these first. */
export type Executor = Knex | Knex.Transaction;
/**
 * What prepared statements run on (lib/store/prepared.ts): the database, a knex transaction, or a
 * prepared transaction — a transaction on one connection that runs prepared statements only.
 */
export type Runner = Pick<Knex, 'client'>;

/** The rows of a `db.raw` result: better-sqlite3 returns them as they are, pg inside a result object. */
export const rowsOf = <T>(result: T[] | { rows: T[] }): T[] => (Array.isArray(result) ? result : result.rows);

/** True for a unique-constraint violation on either engine, told apart by error code, not message. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

/** Whether the database answers at all (GET /health). */
export async function ping(db: Executor): Promise<void> {
  await db.raw('select 1');
}
