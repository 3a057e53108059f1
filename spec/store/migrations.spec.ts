import { readdirSync } from 'node:fs';
import { expect } from 'chai';
import { migrationSource } from '../../lib/store/migrations.ts';

describe('migrations', () => {
  // Regression: a migration written but not listed here never runs, and nothing else fails.
  it('lists every migration in migrations/, in order', async () => {
    const onDisk = readdirSync(new URL('../../migrations/', import.meta.url))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => f.replace(/\.ts$/, ''))
      .sort();
    expect(await migrationSource.getMigrations([])).to.deep.equal(onDisk);
  });
});
