import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

// Small files aggregated into containers (src/storage/hsm/migrate.ts): a container is ONE archive
// entry holding several files back to back. A member's copy row keeps the entry's place
// (backend, volume, entry, position) and the MEMBER's own length and SHA-256, plus where it lies
// inside the entry (container_offset) and the entry's own length and SHA-256 (needed to address
// the entry). container_offset null = the copy is a whole entry, as before.
// Classes of service say which files are aggregated (aggregate_below bytes, 0 = never) and how
// large a container may grow (container_size bytes).
export async function up(db: Kysely<unknown>, _context: MigrationContext): Promise<void> {
  // One column per statement: SQLite's ALTER TABLE adds one column at a time.
  await db.schema.alterTable('fs_copies').addColumn('container_offset', 'double precision').execute();
  await db.schema.alterTable('fs_copies').addColumn('container_length', 'double precision').execute();
  await db.schema.alterTable('fs_copies').addColumn('container_sha256', 'varchar(64)').execute();
  await db.schema.createIndex('fs_copies_entry').on('fs_copies').columns(['volume', 'entry']).execute();
  await db.schema.alterTable('hsm_classes').addColumn('aggregate_below', 'double precision', (c) => c.notNull().defaultTo(64 * 1024 * 1024)).execute();
  await db.schema.alterTable('hsm_classes').addColumn('container_size', 'double precision', (c) => c.notNull().defaultTo(1024 * 1024 * 1024)).execute();
}
