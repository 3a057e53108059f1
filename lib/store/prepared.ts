import type { Knex } from 'knex';
import type { Db, Runner } from './db.ts';
import { databaseOf, dialectOf, type NativeStatement } from './dialect.ts';

/**
 * A statement of the hot path, written with knex like every other but built by it once per
 * database: knex's per-call building and running costs several times what SQLite spends executing
 * a small statement. Runs on the connection of the executor it is given — a transaction's or one
 * from the pool — so it takes part in transactions like any knex query, is seen by `db.on('query')`,
 * and reuses the prepared statement (better-sqlite3: lib/dialects/sqlite.ts; pg: a named statement).
 *
 *   const selectTitle = prepared(['id'], (db, p) => db('conversations').first('title').where({ id: p.id }));
 *   const [row] = await selectTitle.rows(trx, { id: 7 });
 */
export function prepared<P extends string>(
  params: readonly P[],
  build: (db: Knex, p: Record<P, Knex.Value>) => Knex.QueryBuilder | Knex.Raw,
): PreparedStatement<P> {
  return new PreparedStatement(params, build);
}

// A binding that stands for a parameter while knex builds the statement: a string no caller sends.
const PLACEHOLDER = '\u0000parley-param:';

/** What knex built: the SQL in the database's own syntax, and where each bound value comes from. */
interface Compiled<P extends string> {
  sql: string;
  /** Per binding, in order: a parameter's name, or a constant knex bound itself (a LIMIT, say). */
  bindings: ({ param: P } | { value: unknown })[];
  /** pg: the name the prepared statement goes by on each connection. */
  name: string;
}

let statementsMade = 0;

export class PreparedStatement<P extends string> {
  private readonly compiled = new WeakMap<object, Compiled<P>>();
  private readonly id = ++statementsMade;

  constructor(
    private readonly params: readonly P[],
    private readonly build: (db: Knex, p: Record<P, Knex.Value>) => Knex.QueryBuilder | Knex.Raw,
  ) {}

  /** The statement as knex builds it for this database (compiled on first use, then kept). */
  compile(db: Runner): Compiled<P> {
    // Keyed by the knex config object, which every transaction of a database shares with it.
    const key = db.client.config as object;
    let compiled = this.compiled.get(key);
    if (!compiled) {
      const placeholders = Object.fromEntries(this.params.map((p) => [p, PLACEHOLDER + p])) as Record<
        P,
        string
      >;
      const native = this.build(databaseOf(db), placeholders).toSQL().toNative();
      compiled = {
        sql: native.sql,
        bindings: native.bindings.map((b) =>
          typeof b === 'string' && b.startsWith(PLACEHOLDER)
            ? { param: b.slice(PLACEHOLDER.length) as P }
            : { value: b },
        ),
        name: `parley_${this.id}`,
      };
      this.compiled.set(key, compiled);
    }
    return compiled;
  }

  /** Runs the statement; its rows (none for a statement that returns none). */
  async rows<T = Record<string, unknown>>(db: Runner, values: Record<P, unknown>): Promise<T[]> {
    return (await this.execute<T>(db, values)).rows;
  }

  /** Runs the statement; how many rows it changed. */
  async changes(db: Runner, values: Record<P, unknown>): Promise<number> {
    return (await this.execute(db, values)).changes;
  }

  private async execute<T>(db: Runner, values: Record<P, unknown>): Promise<{ rows: T[]; changes: number }> {
    const { sql, bindings, name } = this.compile(db);
    const bound = bindings.map((b) => ('param' in b ? values[b.param] : b.value));
    return (await runNative(db, { sql, values: bound, name })) as { rows: T[]; changes: number };
  }
}

/** Runs one native statement on a connection of `db` (its transaction's, or one from the pool). */
async function runNative(
  db: Runner,
  statement: NativeStatement,
): Promise<{ rows: unknown[]; changes: number }> {
  const client = db.client;
  client.emit('query', { sql: statement.sql, bindings: statement.values, method: 'prepared' });
  const connection = await client.acquireConnection();
  try {
    return await dialectOf(db).execute(connection, statement);
  } finally {
    await client.releaseConnection(connection);
  }
}

/**
 * Runs `work` with one connection of `db` held for it: every prepared statement of the work runs on
 * that connection (the pool's next one may be another), and nothing else runs on it meanwhile.
 */
export async function onOneConnection<T>(db: Db, work: (conn: Runner) => Promise<T>): Promise<T> {
  const client = db.client;
  const connection = await client.acquireConnection();
  const held: Runner = {
    client: Object.assign(Object.create(client), {
      acquireConnection: async () => connection,
      releaseConnection: async () => {},
    }),
  };
  try {
    return await work(held);
  } finally {
    await client.releaseConnection(connection);
  }
}

/**
 * A transaction on one connection whose work runs prepared statements only: what a send commits
 * in on PostgreSQL (SQLite commits sends in groups: lib/dialects/sqlite-group-commit.ts), and what
 * a consistent read of prepared statements reads in there. knex's own transaction builds a
 * knex instance bound to it each time, which costs a send more than its statements do; this one is
 * `begin` (BEGIN, or a dialect's BEGIN with an isolation level) and COMMIT (or ROLLBACK) on the
 * connection it holds.
 */
export function preparedTransaction<T>(
  db: Db,
  work: (trx: Runner) => Promise<T>,
  begin = 'BEGIN',
): Promise<T> {
  return onOneConnection(db, async (trx) => {
    await control(trx, begin);
    try {
      const result = await work(trx);
      await control(trx, 'COMMIT');
      return result;
    } catch (err) {
      // The failure is what the caller needs to hear; a rollback that fails too (the connection
      // is gone, or SQLite already rolled back) adds nothing to it.
      await control(trx, 'ROLLBACK').catch(() => {});
      throw err;
    }
  });
}

/** Runs a statement that takes no values (BEGIN, COMMIT, SAVEPOINT …) on a held connection. */
export async function control(trx: Runner, sql: string): Promise<void> {
  await runNative(trx, { sql, values: [] });
}
