import type { Knex } from 'knex';

// A claim reads the due rows that no node holds, oldest first. With one index on due_at it walked
// past every leased row of a burst to reach the unleased ones — a thousand rows per claim while a
// group message's pushes went out, the largest statement of the push bench. Unleased rows get an
// index of their own; leases that ran out (a node died mid-send) are given back by the dispatcher's
// pulse, found through an index of the leased rows.

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('push_deliveries', (t) => {
    t.dropIndex(['due_at']);
    t.index(['due_at'], 'push_deliveries_unleased_due', { predicate: knex.whereNull('leased_until') });
    t.index(['leased_until'], 'push_deliveries_leased', { predicate: knex.whereNotNull('leased_until') });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('push_deliveries', (t) => {
    t.dropIndex(['leased_until'], 'push_deliveries_leased');
    t.dropIndex(['due_at'], 'push_deliveries_unleased_due');
    t.index(['due_at']);
  });
}
