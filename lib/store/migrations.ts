import type { Knex } from 'knex';
import * as initial from '../../migrations/20261125120000_create_core_schema.ts';
import * as presence from '../../migrations/20261125130000_add_presence.ts';
import * as presenceHolds from '../../migrations/20261125140000_add_presence_holds.ts';
import * as unreadCounters from '../../migrations/20261125150000_add_unread_counters.ts';
import * as memberIndex from '../../migrations/20261125160000_index_memberships_by_member.ts';

type Migration = Knex.Migration;

/** Migrations in order. Listed here (not discovered on disk) so they load the same under tsx, tsc and bundlers. */
const MIGRATIONS: Record<string, Migration> = {
  '20261125120000_create_core_schema': initial,
  '20261125130000_add_presence': presence,
  '20261125140000_add_presence_holds': presenceHolds,
  '20261125150000_add_unread_counters': unreadCounters,
  '20261125160000_index_memberships_by_member': memberIndex,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(MIGRATIONS),
  getMigrationName: (name) => name,
  getMigration: async (name) => {
    const migration = MIGRATIONS[name];
    if (!migration) throw new Error(`unknown migration ${name}`);
    return migration;
  },
};
