import type { Knex } from 'knex';

// Devices (a browser profile, an app install): every session belongs to one. Push subscriptions,
// one per device, and the notifications owed to devices (lib/push/). See README "Offline
// notifications".

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('devices', (t) => {
    t.string('id', 32).primary();
    t.integer('user_id').unsigned().notNullable().references('users.id').onDelete('CASCADE').index();
    t.string('name', 64).nullable();
    t.string('created_at', 24).notNullable();
    t.string('last_seen_at', 24).nullable();
    // A node holding one of the device's streams or polls keeps this in the future
    // (lib/push/liveness.ts): a device is live while it is, across every node.
    t.string('live_until', 24).nullable();
  });
  await knex.schema.alterTable('sessions', (t) => {
    t.string('device_id', 32).nullable().index();
  });
  // Existing live sessions get a device each: one session was one client until now.
  await knex.raw(
    `INSERT INTO devices (id, user_id, name, created_at, last_seen_at)
     SELECT 'm' || id, user_id, NULL, created_at, NULL FROM sessions WHERE revoked_at IS NULL`,
  );
  await knex.raw(`UPDATE sessions SET device_id = 'm' || id WHERE revoked_at IS NULL`);

  await knex.schema.createTable('push_subscriptions', (t) => {
    t.string('device_id', 32).primary().references('devices.id').onDelete('CASCADE');
    t.integer('user_id').unsigned().notNullable().index();
    t.string('type', 8).notNullable(); // 'webpush' | 'gateway'
    // Web Push: the push service's endpoint and the browser's keys.
    t.string('endpoint', 2048).nullable();
    t.string('p256dh', 128).nullable();
    t.string('auth', 64).nullable();
    // Gateway: the Matrix Push Gateway URL, the app id and the push key.
    t.string('gateway_url', 2048).nullable();
    t.string('app_id', 128).nullable();
    t.string('push_key', 512).nullable();
    t.string('created_at', 24).notNullable();
    t.string('last_failure_at', 24).nullable();
    t.string('last_failure', 200).nullable();
  });

  // Conversations a user has muted ("notifications": "none").
  await knex.schema.createTable('conversation_mutes', (t) => {
    t.integer('user_id').unsigned().notNullable().references('users.id').onDelete('CASCADE');
    t.integer('conversation_id').unsigned().notNullable().references('conversations.id').onDelete('CASCADE');
    t.primary(['user_id', 'conversation_id']);
  });

  // Notifications owed, one row per device and event: written by the dispatcher as it reads the
  // event log past its position (log_state 'push_through'), claimed by any node with a lease.
  await knex.schema.createTable('push_deliveries', (t) => {
    t.bigIncrements('id');
    t.string('device_id', 32).notNullable().references('devices.id').onDelete('CASCADE');
    t.integer('user_id').unsigned().notNullable();
    t.integer('conversation_id').unsigned().notNullable();
    t.integer('message_id').unsigned().nullable();
    t.string('kind', 8).notNullable(); // 'message' | 'added'
    t.bigInteger('event_id').notNullable();
    t.string('event_cursor', 64).notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.string('due_at', 24).notNullable();
    t.string('leased_until', 24).nullable();
    t.string('created_at', 24).notNullable();
    t.index(['due_at']);
    t.unique(['device_id', 'event_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('push_deliveries');
  await knex.schema.dropTableIfExists('conversation_mutes');
  await knex.schema.dropTableIfExists('push_subscriptions');
  await knex.schema.alterTable('sessions', (t) => t.dropColumn('device_id'));
  await knex.schema.dropTableIfExists('devices');
}
