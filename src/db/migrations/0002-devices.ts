import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

// Shared devices used interactively (tape drives, instruments, interactive GPUs) and each one's
// current or last reservation, kept on the device's row: a device has at most one at a time.
// `version` grows with every change of the reservation, so two users racing for a free device
// cannot both win (the update names the version it read).
export async function up(db: Kysely<unknown>, { idColumn }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('devices')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('name', 'varchar(32)', (c) => c.notNull().unique())
    .addColumn('kind', 'varchar(32)', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('idle_release_s', 'integer', (c) => c.notNull())
    .addColumn('max_hold_s', 'integer')
    .addColumn('holder', 'varchar(32)')
    .addColumn('reserved_at', 'varchar(30)')
    .addColumn('reserved_until', 'varchar(30)')
    .addColumn('last_activity_at', 'varchar(30)')
    .addColumn('ended_at', 'varchar(30)')
    .addColumn('end_reason', 'varchar(16)')
    .addColumn('ended_by', 'varchar(64)')
    .addColumn('end_note', 'text')
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(30)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('devices_holder').on('devices').column('holder').execute();
}
