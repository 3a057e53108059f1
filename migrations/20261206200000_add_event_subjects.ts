import type { Knex } from 'knex';

// What an event is about, where readers need to find events by it (issue 12, items 19 and 20):
// - message_id: the message a message.created or message.updated shows, so deleting or editing
//   the message can take its old text out of the earlier events in the same transaction;
// - subject_user_id: the user a presence.updated is about, so a poll finds the transitions of the
//   people it shares a conversation with (presence events have no conversation and no recipients).

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('events', (t) => {
    t.bigInteger('message_id').nullable();
    t.integer('subject_user_id').nullable();
    t.index(['message_id']);
    t.index(['subject_user_id', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('events', (t) => {
    t.dropIndex(['subject_user_id', 'id']);
    t.dropIndex(['message_id']);
    t.dropColumn('subject_user_id');
    t.dropColumn('message_id');
  });
}
