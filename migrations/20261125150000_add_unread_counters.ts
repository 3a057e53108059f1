import type { Knex } from 'knex';

// Unread counts kept up to date instead of counted: a member's unread count is the conversation's
// live message count minus how many of those messages the member has "settled" — read (at or
// before their read mark or joining point) or sent themselves. Counting unread messages on every
// read cost a scan of the whole unread range: a second for a million-message conversation.

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('conversations', (t) => {
    t.integer('message_count').unsigned().notNullable().defaultTo(0);
  });
  await knex.schema.alterTable('memberships', (t) => {
    t.integer('settled_count').unsigned().notNullable().defaultTo(0);
  });
  await knex.raw(
    `UPDATE conversations SET message_count =
       (SELECT COUNT(*) FROM messages WHERE messages.conversation_id = conversations.id)`,
  );
  await knex.raw(
    `UPDATE memberships SET settled_count =
       (SELECT COUNT(*) FROM messages
         WHERE messages.conversation_id = memberships.conversation_id
           AND (messages.id <= memberships.last_read_message_id
                OR messages.id <= memberships.visible_after_message_id
                OR messages.sender_id = memberships.user_id))`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('memberships', (t) => t.dropColumn('settled_count'));
  await knex.schema.alterTable('conversations', (t) => t.dropColumn('message_count'));
}
