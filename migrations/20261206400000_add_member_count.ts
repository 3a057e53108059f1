import type { Knex } from 'knex';

// How many current members each conversation has, kept with every join and leave: presence is
// announced only through conversations of at most PRESENCE_GROUP_LIMIT members (lib/chat/presence.ts),
// and that check runs for every presence transition a client reads.

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('conversations', (t) => {
    t.integer('member_count').notNullable().defaultTo(0);
  });
  await knex('conversations').update({
    member_count: knex('memberships')
      .count('*')
      .where('memberships.conversation_id', knex.ref('conversations.id'))
      .whereNull('memberships.left_event_id'),
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('conversations', (t) => {
    t.dropColumn('member_count');
  });
}
