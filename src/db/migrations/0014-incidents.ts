import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

// Incidents (src/incidents/): one row per incident with its services, checklist and postmortem
// as JSON, and its timeline of updates in incident_updates. `open_key` holds the source key of
// an incident opened by a hook (recovery, alerts) while it is open and is null otherwise: the
// unique index keeps two hooks racing from opening the same incident twice (several NULLs are
// allowed on both engines).
export async function up(db: Kysely<unknown>, { idColumn }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('incidents')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('title', 'varchar(200)', (c) => c.notNull())
    .addColumn('severity', 'varchar(8)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('cause', 'varchar(32)', (c) => c.notNull())
    .addColumn('services', 'text', (c) => c.notNull())
    .addColumn('started_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('detected_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('ended_at', 'varchar(30)')
    .addColumn('source', 'varchar(16)', (c) => c.notNull())
    .addColumn('source_key', 'varchar(200)')
    .addColumn('open_key', 'varchar(200)', (c) => c.unique())
    .addColumn('opened_by', 'varchar(64)', (c) => c.notNull())
    .addColumn('checklist', 'text', (c) => c.notNull())
    .addColumn('postmortem', 'text')
    .addColumn('created_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(30)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('incidents_started').on('incidents').column('started_at').execute();
  await db.schema
    .createTable('incident_updates')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('incident_id', 'integer', (c) => c.notNull().references('incidents.id').onDelete('cascade'))
    .addColumn('at', 'varchar(30)', (c) => c.notNull())
    .addColumn('author', 'varchar(64)', (c) => c.notNull())
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)')
    .addColumn('text', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('incident_updates_incident').on('incident_updates').column('incident_id').execute();
}
