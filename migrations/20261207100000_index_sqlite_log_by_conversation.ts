import type { Knex } from 'knex';

// On SQLite every event's `tx` is 0 and the id alone orders the log (lib/dialects/sqlite.ts), so the
// indexes that carry `tx` do not serve its reads: on (conversation_id, tx, id) a read of "this
// conversation after id N" could seek only to the conversation and walked its whole history — a
// re-poll in a conversation of 100,000 messages took ~4 ms — and (tx, id) only cost every insert.
// An index on conversation_id alone holds the rowid, which is the id: the same read seeks to N.
// PostgreSQL orders the log by (tx, id) and keeps both.

const onSqlite = (knex: Knex) => knex.client.config.client !== 'pg';

export async function up(knex: Knex): Promise<void> {
  if (!onSqlite(knex)) return;
  await knex.schema.alterTable('events', (t) => {
    t.dropIndex(['tx', 'id']);
    t.dropIndex(['conversation_id', 'tx', 'id']);
    t.index(['conversation_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  if (!onSqlite(knex)) return;
  await knex.schema.alterTable('events', (t) => {
    t.dropIndex(['conversation_id']);
    t.index(['tx', 'id']);
    t.index(['conversation_id', 'tx', 'id']);
  });
}
