import type { Knex } from 'knex';

// End-to-end encrypted conversations: Parley as an MLS (RFC 9420) Delivery Service. The server keeps
// opaque bytes only (base64 text): each device's public keys, its one-time key packages, the
// conversation's epoch and newest GroupInfo, and message ciphertexts. See README "End-to-end
// encryption (server side)".

export async function up(knex: Knex): Promise<void> {
  // A device's MLS identity, set once: a new key is a new device.
  await knex.schema.createTable('device_keys', (t) => {
    t.string('device_id', 32).primary().references('devices.id').onDelete('CASCADE');
    t.integer('user_id').unsigned().notNullable().index();
    t.integer('cipher_suite').notNullable();
    t.text('credential').notNullable();
    t.text('signature_key').notNullable();
    t.string('created_at', 24).notNullable();
  });

  // Key packages waiting to be claimed: a claim deletes the one it hands out, so none is handed out
  // twice. The last-resort one (at most one per device) stays and is handed out when none is left.
  await knex.schema.createTable('key_packages', (t) => {
    t.bigIncrements('id');
    t.string('device_id', 32).notNullable().references('devices.id').onDelete('CASCADE');
    t.boolean('last_resort').notNullable().defaultTo(false);
    t.text('key_package').notNullable();
    t.string('created_at', 24).notNullable();
    t.index(['device_id', 'last_resort', 'id']);
  });

  await knex.schema.alterTable('conversations', (t) => {
    t.boolean('encrypted').notNullable().defaultTo(false);
    // The MLS epoch the Delivery Service accepts the next commit at; advances by one per commit.
    t.bigInteger('epoch').notNullable().defaultTo(0);
  });

  // The newest GroupInfo a commit carried, for a member's new device to join by external commit.
  await knex.schema.createTable('mls_group_info', (t) => {
    t.integer('conversation_id').unsigned().primary().references('conversations.id').onDelete('CASCADE');
    t.bigInteger('epoch').notNullable();
    t.text('group_info').notNullable();
    t.string('updated_at', 24).notNullable();
  });

  // An encrypted message keeps its MLS PrivateMessage here and an empty `body`.
  await knex.schema.alterTable('messages', (t) => {
    t.text('ciphertext').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('messages', (t) => {
    t.dropColumn('ciphertext');
  });
  await knex.schema.dropTable('mls_group_info');
  await knex.schema.alterTable('conversations', (t) => {
    t.dropColumn('epoch');
    t.dropColumn('encrypted');
  });
  await knex.schema.dropTable('key_packages');
  await knex.schema.dropTable('device_keys');
}
