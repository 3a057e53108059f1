import type { Knex } from 'knex';

// Who caused a notification: a message's sender, or who added the recipient to a conversation.

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('push_deliveries', (t) => {
    t.integer('sender_id').unsigned().notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('push_deliveries', (t) => t.dropColumn('sender_id'));
}
