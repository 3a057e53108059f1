import { readdirSync } from 'node:fs';
import { expect } from 'chai';
import { dialectOf } from '../../lib/store/dialect.ts';
import { migrationSource } from '../../lib/store/migrations.ts';
import { useServer } from '../helpers/fixture.ts';

describe('migrations', () => {
  // Regression: 20261207000000 was written but not listed, so no database ever got its indexes.
  it('lists every migration in migrations/, in order', async () => {
    const onDisk = readdirSync(new URL('../../migrations/', import.meta.url))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => f.replace(/\.ts$/, ''))
      .sort();
    expect(await migrationSource.getMigrations([])).to.deep.equal(onDisk);
  });

  describe('push_deliveries', () => {
    const t = useServer();

    it('has an index of the unleased rows for claims and one of the leased rows, and no plain due_at index', async () => {
      const db = t.server.parley.deps.db;
      const names: string[] =
        dialectOf(db).name === 'sqlite'
          ? (
              await db('sqlite_master').select('name').where({ type: 'index', tbl_name: 'push_deliveries' })
            ).map((r: { name: string }) => r.name)
          : (await db('pg_indexes').select('indexname').where({ tablename: 'push_deliveries' })).map(
              (r: { indexname: string }) => r.indexname,
            );
      expect(names).to.include.members(['push_deliveries_unleased_due', 'push_deliveries_leased']);
      expect(names).not.to.include('push_deliveries_due_at_index');
    });
  });
});
