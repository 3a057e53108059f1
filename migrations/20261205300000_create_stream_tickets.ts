import type { Knex } from 'knex';

// Stream tickets (lib/security/stream-tickets.ts): a short-lived, single-use credential that opens
// one event stream, for browsers on another site, whose EventSource can send neither a bearer header
// nor a SameSite=Lax cookie. Kept in the database so any node can redeem a ticket another issued;
// only a hash of the ticket is stored, so the table alone opens nothing.

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('stream_tickets', (t) => {
    // The SHA-256 of the ticket, hex.
    t.string('id', 64).primary();
    t.string('session_id', 32).notNullable().references('sessions.id').onDelete('CASCADE').index();
    t.string('expires_at', 24).notNullable().index();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('stream_tickets');
}
