import type { Knex } from 'knex';

// Presence as last announced (lib/presence.ts), so User objects read it with the rest of the row.

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.string('presence', 8).notNullable().defaultTo('offline');
    // When a connection of theirs was last open; NULL if never.
    t.string('last_seen_at', 24).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.dropColumn('presence');
    t.dropColumn('last_seen_at');
  });
}
