import type { Knex } from 'knex';

// "Is this user a member of this conversation?" runs on every send, read mark and typing signal.
// The indexes by conversation and by user each leave a scan of the other side: every member of a
// 5,000-member group, or every conversation of a busy user.

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('memberships', (t) => {
    t.index(['conversation_id', 'user_id'], 'memberships_conversation_id_user_id_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('memberships', (t) => {
    t.dropIndex(['conversation_id', 'user_id'], 'memberships_conversation_id_user_id_index');
  });
}
