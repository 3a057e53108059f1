import type { Knex } from 'knex';

// Presence across nodes (lib/presence.ts): each node holds the users it has connections for, and
// keeps its own row fresh; a user is online while any live node holds them.

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('nodes', (t) => {
    t.string('id', 64).primary();
    t.string('seen_at', 24).notNullable();
  });
  await knex.schema.createTable('presence_holds', (t) => {
    t.string('node_id', 64).notNullable();
    t.integer('user_id').unsigned().notNullable();
    t.primary(['node_id', 'user_id']);
    t.index(['user_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('presence_holds');
  await knex.schema.dropTableIfExists('nodes');
}
