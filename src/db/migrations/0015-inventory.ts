import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

// The inventory entries operators make through the API (src/ops/inventory/): hosts, services and
// redundancy groups. Entries of keisan.yaml `inventory:` are not stored: they are loaded at start.
// Lists and maps (roles, addresses, MACs per interface, a service's hosts, a group's members) are
// JSON text; the service checks references between entries in the same transaction as the change.
export async function up(db: Kysely<unknown>, { idColumn }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('inventory_hosts')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('name', 'varchar(253)', (c) => c.notNull().unique())
    .addColumn('roles', 'text', (c) => c.notNull())
    .addColumn('addresses', 'text', (c) => c.notNull())
    .addColumn('macs', 'text', (c) => c.notNull())
    .addColumn('notes', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('created_by', 'varchar(255)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(30)', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('inventory_services')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('name', 'varchar(63)', (c) => c.notNull().unique())
    .addColumn('critical', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('hosts', 'text', (c) => c.notNull())
    .addColumn('notes', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('created_by', 'varchar(255)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(30)', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('inventory_groups')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('name', 'varchar(63)', (c) => c.notNull().unique())
    .addColumn('members', 'text', (c) => c.notNull())
    .addColumn('min_healthy', 'integer', (c) => c.notNull())
    .addColumn('service', 'varchar(63)')
    .addColumn('notes', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('created_by', 'varchar(255)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(30)', (c) => c.notNull())
    .execute();
}
