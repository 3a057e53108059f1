import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { expect } from 'chai';
import { openDatabase } from '../../lib/dialects/index.ts';
import type { Db } from '../../lib/store/db.ts';
import { describeOncePerRun } from '../helpers/postgres.ts';

describeOncePerRun('SQLite statements with a bound LIMIT or OFFSET', () => {
  let dir: string;
  let db: Db;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-limits-'));
    db = openDatabase({ client: 'sqlite', filename: join(dir, 'limits.db') }).db;
    await db.schema.createTable('numbers', (t) => t.integer('n').primary());
    await db('numbers').insert(Array.from({ length: 10 }, (_, i) => ({ n: i + 1 })));
  });

  after(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('are prepared with the limit as an expression, so binding it does not compile them again', async () => {
    // A bare `limit ?` lets SQLite's planner read the bound value, so each run (better-sqlite3
    // binds on every run) compiled the statement anew: ~40 µs more for a history page's member view.
    const sql = db('numbers').select('n').orderBy('n').limit(3).offset(2).toSQL().sql;
    expect(sql).to.match(/limit \? offset \?/);
    const connection = (await db.client.acquireConnection()) as BetterSqlite3.Database;
    try {
      expect(connection.prepare(sql).source).to.match(/limit \+\? offset \+\?/);
    } finally {
      await db.client.releaseConnection(connection);
    }
  });

  it('return the same rows as before', async () => {
    const page = await db('numbers').select('n').orderBy('n').limit(3).offset(2);
    expect(page.map((r: { n: number }) => r.n)).to.deep.equal([3, 4, 5]);
    expect(await db('numbers').first('n').orderBy('n', 'desc')).to.deep.equal({ n: 10 });
    const raw = await db.raw('SELECT n FROM numbers ORDER BY n LIMIT ?', [2]);
    expect(raw).to.deep.equal([{ n: 1 }, { n: 2 }]);
  });
});
