import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

// Alerts (monitor/alerts): one row per alert episode — from pending or firing until resolved —
// of a Keisan rule or one received from Alertmanager; the active ones are restored after a
// restart with what was last notified about them, so nothing is sent twice. Silences, and the
// notifications log: a firing alert and a delivered notification are different things.
export async function up(db: Kysely<unknown>, { idColumn }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('alerts')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('fingerprint', 'varchar(64)', (c) => c.notNull())
    .addColumn('source', 'varchar(16)', (c) => c.notNull())
    .addColumn('rule', 'varchar(200)', (c) => c.notNull())
    .addColumn('labels', 'text', (c) => c.notNull())
    .addColumn('severity', 'varchar(16)', (c) => c.notNull())
    .addColumn('state', 'varchar(16)', (c) => c.notNull())
    .addColumn('value', 'double precision')
    .addColumn('summary', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('started_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('fired_at', 'varchar(30)')
    .addColumn('resolved_at', 'varchar(30)')
    .addColumn('last_eval_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('notified', 'varchar(16)')
    .addColumn('notified_at', 'varchar(30)')
    .execute();
  await db.schema.createIndex('alerts_fingerprint').on('alerts').column('fingerprint').execute();
  await db.schema.createIndex('alerts_state').on('alerts').column('state').execute();
  await db.schema
    .createTable('alert_silences')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('matchers', 'text', (c) => c.notNull())
    .addColumn('starts_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('ends_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('created_by', 'varchar(64)', (c) => c.notNull())
    .addColumn('comment', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('removed_by', 'varchar(64)')
    .execute();
  await db.schema.createIndex('alert_silences_ends').on('alert_silences').column('ends_at').execute();
  await db.schema
    .createTable('alert_notifications')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('at', 'varchar(30)', (c) => c.notNull())
    .addColumn('channel', 'varchar(16)', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('error', 'text')
    .addColumn('group_key', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('firing', 'integer', (c) => c.notNull())
    .addColumn('resolved', 'integer', (c) => c.notNull())
    .addColumn('fingerprints', 'text', (c) => c.notNull())
    .addColumn('delivered_at', 'varchar(30)')
    .execute();
}
