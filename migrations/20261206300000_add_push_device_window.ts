import type { Knex } from 'knex';

// Each device's push budget (lib/push/dispatcher.ts): when its current window began and how many
// pushes it has had in it, so every node sees the same count (PUSH_DEVICE_LIMIT per window).

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('push_subscriptions', (t) => {
    t.string('window_started_at', 24).nullable();
    t.integer('window_sent').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('push_subscriptions', (t) => {
    t.dropColumn('window_sent');
    t.dropColumn('window_started_at');
  });
}
