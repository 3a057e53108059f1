import type { Knex } from 'knex';
import * as initial from '../../migrations/20261125120000_create_core_schema.ts';
import * as presence from '../../migrations/20261125130000_add_presence.ts';
import * as presenceHolds from '../../migrations/20261125140000_add_presence_holds.ts';
import * as unreadCounters from '../../migrations/20261125150000_add_unread_counters.ts';
import * as memberIndex from '../../migrations/20261125160000_index_memberships_by_member.ts';
import * as devicesAndPush from '../../migrations/20261205200000_add_devices_and_push.ts';
import * as pushDeliverySender from '../../migrations/20261205200100_add_push_delivery_sender.ts';
import * as streamTickets from '../../migrations/20261205300000_create_stream_tickets.ts';
import * as mlsDeliveryService from '../../migrations/20261206100000_add_mls_delivery_service.ts';
import * as eventSubjects from '../../migrations/20261206200000_add_event_subjects.ts';
import * as pushDeviceWindow from '../../migrations/20261206300000_add_push_device_window.ts';
import * as memberCount from '../../migrations/20261206400000_add_member_count.ts';
import * as sqliteLogIndex from '../../migrations/20261207100000_index_sqlite_log_by_conversation.ts';

type Migration = Knex.Migration;

/** Migrations in order. Listed here (not discovered on disk) so they load the same under tsx, tsc and bundlers. */
const MIGRATIONS: Record<string, Migration> = {
  '20261125120000_create_core_schema': initial,
  '20261125130000_add_presence': presence,
  '20261125140000_add_presence_holds': presenceHolds,
  '20261125150000_add_unread_counters': unreadCounters,
  '20261125160000_index_memberships_by_member': memberIndex,
  '20261205200000_add_devices_and_push': devicesAndPush,
  '20261205200100_add_push_delivery_sender': pushDeliverySender,
  '20261205300000_create_stream_tickets': streamTickets,
  '20261206100000_add_mls_delivery_service': mlsDeliveryService,
  '20261206200000_add_event_subjects': eventSubjects,
  '20261206300000_add_push_device_window': pushDeviceWindow,
  '20261206400000_add_member_count': memberCount,
  '20261207100000_index_sqlite_log_by_conversation': sqliteLogIndex,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(MIGRATIONS),
  getMigrationName: (name) => name,
  getMigration: async (name) => {
    const migration = MIGRATIONS[name];
    if (!migration) throw new Error(`unknown migration ${name}`);
    return migration;
  },
};
