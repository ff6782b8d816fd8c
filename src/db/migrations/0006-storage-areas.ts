import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

// User areas (storage/areas): who may write each workgroup's library, and the last measured
// usage of each area with when its owners were last warned about the soft quota. Names, not
// ids, as in notifications: a writer's row outlives nothing (it goes with the user), and usage
// rows are keyed by the area's path below the areas root.
export async function up(db: Kysely<unknown>, { idColumn }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('storage_library_writers')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('workgroup', 'varchar(32)', (c) => c.notNull())
    .addColumn('user_name', 'varchar(32)', (c) => c.notNull())
    .addColumn('added_by', 'varchar(64)', (c) => c.notNull())
    .addColumn('added_at', 'varchar(30)', (c) => c.notNull())
    .addUniqueConstraint('storage_library_writers_once', ['workgroup', 'user_name'])
    .execute();
  await db.schema
    .createTable('storage_area_usage')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('area', 'varchar(100)', (c) => c.notNull().unique())
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('name', 'varchar(80)', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('bytes', 'double precision', (c) => c.notNull())
    .addColumn('files', 'double precision', (c) => c.notNull())
    .addColumn('complete', 'integer', (c) => c.notNull())
    .addColumn('measured_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('duration_ms', 'integer', (c) => c.notNull())
    .addColumn('warned_at', 'varchar(30)')
    .execute();
}
