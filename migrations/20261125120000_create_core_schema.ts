import type { Knex } from 'knex';

// Timestamps are ISO 8601 UTC strings: they sort as text, read back identically on SQLite and
// PostgreSQL, and are what the API returns.

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('users', (t) => {
    t.increments('id');
    t.string('username', 32).notNullable();
    // Lower-cased username; NULL once the account is deleted, which frees the name.
    t.string('username_key', 32).nullable().unique();
    t.string('display_name', 64).notNullable();
    t.string('display_name_key', 64).notNullable().index();
    t.string('avatar_url', 2048).nullable();
    t.string('password_hash', 255).notNullable();
    t.string('created_at', 24).notNullable();
    t.string('updated_at', 24).notNullable();
    t.string('deleted_at', 24).nullable();
  });

  await knex.schema.createTable('avatars', (t) => {
    t.integer('user_id').unsigned().primary().references('users.id').onDelete('CASCADE');
    t.string('content_type', 32).notNullable();
    t.binary('bytes').notNullable();
    t.string('etag', 64).notNullable();
    t.string('updated_at', 24).notNullable();
  });

  await knex.schema.createTable('sessions', (t) => {
    t.string('id', 32).primary();
    t.integer('user_id').unsigned().notNullable().references('users.id').onDelete('CASCADE').index();
    t.string('created_at', 24).notNullable();
    t.string('expires_at', 24).notNullable();
    t.string('revoked_at', 24).nullable();
  });

  await knex.schema.createTable('conversations', (t) => {
    t.increments('id');
    t.string('type', 8).notNullable();
    t.string('title', 200).nullable();
    t.integer('created_by').unsigned().notNullable().references('users.id');
    // "<smaller user id>:<larger user id>" for direct conversations, so a pair has at most one.
    t.string('direct_key', 40).nullable().unique();
    t.integer('last_message_id').unsigned().nullable();
    t.string('last_activity_at', 24).notNullable();
    t.string('created_at', 24).notNullable();
    t.string('updated_at', 24).notNullable();
  });

  // The event log, ordered by (tx, id): see lib/events/position.ts.
  const pg = knex.client.config.client === 'pg';
  await knex.schema.createTable('events', (t) => {
    t.bigIncrements('id');
    // The inserting transaction on PostgreSQL; always 0 on SQLite.
    const tx = t.bigInteger('tx').notNullable();
    tx.defaultTo(pg ? knex.raw('pg_current_xact_id()::text::bigint') : 0);
    t.string('type', 40).notNullable();
    // Set for events every member of a conversation sees; NULL for events with explicit recipients.
    t.integer('conversation_id').unsigned().nullable();
    t.text('data').notNullable();
    t.string('at', 24).notNullable();
    t.index(['tx', 'id']);
    t.index(['conversation_id', 'tx', 'id']);
    t.index(['at']);
  });

  await knex.schema.createTable('event_recipients', (t) => {
    t.integer('user_id').unsigned().notNullable();
    t.bigInteger('event_id').unsigned().notNullable().references('events.id').onDelete('CASCADE');
    t.primary(['user_id', 'event_id']);
    t.index(['event_id']);
  });

  // One row per period of membership: leaving and rejoining makes a new row, so what a member may
  // see is always "events after joined_event_id, up to left_event_id".
  await knex.schema.createTable('memberships', (t) => {
    t.increments('id');
    t.integer('conversation_id').unsigned().notNullable().references('conversations.id').onDelete('CASCADE');
    t.integer('user_id').unsigned().notNullable().references('users.id');
    t.string('role', 8).notNullable();
    t.string('joined_at', 24).notNullable();
    t.bigInteger('joined_event_id').notNullable();
    t.bigInteger('left_event_id').nullable();
    // History starts at joining: this member sees messages with a larger id.
    t.integer('visible_after_message_id').unsigned().notNullable().defaultTo(0);
    t.integer('last_read_message_id').unsigned().notNullable().defaultTo(0);
    t.integer('last_delivered_message_id').unsigned().notNullable().defaultTo(0);
    t.index(['user_id', 'left_event_id']);
    t.index(['conversation_id', 'left_event_id']);
  });

  await knex.schema.createTable('messages', (t) => {
    t.increments('id');
    t.integer('conversation_id').unsigned().notNullable().references('conversations.id').onDelete('CASCADE');
    t.integer('sender_id').unsigned().notNullable().references('users.id');
    t.text('body').notNullable();
    t.string('client_message_id', 64).nullable();
    t.string('created_at', 24).notNullable();
    t.string('edited_at', 24).nullable();
    t.index(['conversation_id', 'id']);
    t.unique(['conversation_id', 'sender_id', 'client_message_id']);
  });

  // Where retention pruned the log up to: a cursor before it may have missed events.
  await knex.schema.createTable('log_state', (t) => {
    t.string('key', 40).primary();
    t.bigInteger('tx').notNullable();
    t.bigInteger('id').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'log_state',
    'messages',
    'memberships',
    'event_recipients',
    'events',
    'conversations',
    'sessions',
    'avatars',
    'users',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
