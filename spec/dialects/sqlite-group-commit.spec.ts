import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { openDatabase } from '../../lib/dialects/index.ts';
import type { Db, Runner } from '../../lib/store/db.ts';
import { dialectOf } from '../../lib/store/dialect.ts';
import { control, prepared } from '../../lib/store/prepared.ts';
import { describeOncePerRun } from '../helpers/postgres.ts';

describeOncePerRun('SQLite: prepared writes asked for together commit together', () => {
  let dir: string;
  let db: Db;
  const insert = prepared(['n'], (knex, p) => knex('numbers').insert({ n: p.n }));
  const write = (n: number, after?: () => void) =>
    dialectOf(db).commitPrepared(db, async (trx: Runner) => {
      await insert.changes(trx, { n });
      after?.();
      return n;
    });
  const numbers = async () => (await db('numbers').select('n').orderBy('n')).map((r) => r.n as number);
  const commitsDuring = async <T>(work: () => Promise<T>) => {
    let commits = 0;
    const onQuery = (q: { sql: string }) => {
      if (q.sql === 'COMMIT') commits++;
    };
    db.on('query', onQuery);
    try {
      return { result: await work(), commits };
    } finally {
      db.off('query', onQuery);
    }
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-group-commit-'));
    db = openDatabase({ client: 'sqlite', filename: join(dir, 'group.db') }).db;
    await db.schema.createTable('numbers', (t) => t.integer('n').primary());
  });

  beforeEach(() => db('numbers').delete());

  after(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs them in the order asked, in one transaction, and answers each its own result', async () => {
    const { result, commits } = await commitsDuring(() => Promise.all([write(1), write(2), write(3)]));
    expect(result).to.deep.equal([1, 2, 3]);
    expect(commits).to.equal(1);
    expect(await numbers()).to.deep.equal([1, 2, 3]);
  });

  it('settles each write only once the group has committed', async () => {
    // A second connection sees only what is committed: when the first write settles, the last is too.
    const reader = new Database(join(dir, 'group.db'), { readonly: true });
    try {
      const seenWhenFirstSettled = write(1).then(() =>
        reader
          .prepare('SELECT n FROM numbers ORDER BY n')
          .all()
          .map((r) => (r as { n: number }).n),
      );
      await Promise.all([write(2), write(3)]);
      expect(await seenWhenFirstSettled).to.deep.equal([1, 2, 3]);
    } finally {
      reader.close();
    }
  });

  it('rolls back a write that fails after writing, alone: it fails, the others commit', async () => {
    const failure = new Error('fails after its insert');
    const outcomes = await Promise.allSettled([
      write(1),
      write(2, () => {
        throw failure;
      }),
      write(3),
    ]);
    expect(outcomes.map((o) => o.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).to.equal(failure);
    expect(await numbers()).to.deep.equal([1, 3]);
  });

  it('fails a write whose statement fails (a constraint), and commits the rest', async () => {
    const outcomes = await Promise.allSettled([write(1), write(1), write(2)]);
    expect(outcomes.map((o) => o.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).to.have.property(
      'code',
      'SQLITE_CONSTRAINT_PRIMARYKEY',
    );
    expect(await numbers()).to.deep.equal([1, 2]);
  });

  it('fails the writes before one that lost the whole transaction, and commits the rest anew', async () => {
    // What SQLite does on an I/O error or a full disk: it rolls the whole transaction back.
    const lost = new Error('the transaction is gone');
    const outcomes = await Promise.allSettled([
      write(1),
      dialectOf(db).commitPrepared(db, async (trx: Runner) => {
        await control(trx, 'ROLLBACK');
        throw lost;
      }),
      write(3),
    ]);
    expect(outcomes.map((o) => o.status)).to.deep.equal(['rejected', 'rejected', 'fulfilled']);
    expect((outcomes[0] as PromiseRejectedResult).reason).to.not.equal(lost);
    expect((outcomes[1] as PromiseRejectedResult).reason).to.equal(lost);
    expect(await numbers()).to.deep.equal([3]);
  });

  it('takes at most 64 writes in one transaction', async () => {
    const many = Array.from({ length: 100 }, (_, i) => i + 1);
    const { commits } = await commitsDuring(() => Promise.all(many.map((n) => write(n))));
    expect(commits).to.equal(2);
    expect(await numbers()).to.deep.equal(many);
  });

  it('commits a write asked for on its own at once, in a transaction of its own', async () => {
    const { result, commits } = await commitsDuring(() => write(7));
    expect(result).to.equal(7);
    expect(commits).to.equal(1);
  });
});
