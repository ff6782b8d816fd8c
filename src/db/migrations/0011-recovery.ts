import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

// Recovery events (src/recovery/): one row per thing a node's watchdog saw or did — a rule that
// fired, the victim it chose, the action (kill, freeze, throttle, stop, renice, warn or none in
// observe mode), its outcome and timings, and where the evidence file lies on that host. Written
// once by the watchdog through POST /api/recovery/events; never changed afterwards.
export async function up(db: Kysely<unknown>, { idColumn }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('recovery_events')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('host', 'varchar(255)', (c) => c.notNull())
    .addColumn('at', 'varchar(30)', (c) => c.notNull())
    .addColumn('rule', 'varchar(32)', (c) => c.notNull())
    .addColumn('severity', 'varchar(16)', (c) => c.notNull())
    .addColumn('job_id', 'integer')
    .addColumn('pid', 'integer')
    .addColumn('user_name', 'varchar(255)')
    .addColumn('mode', 'varchar(16)', (c) => c.notNull())
    .addColumn('action', 'varchar(16)', (c) => c.notNull())
    .addColumn('outcome', 'varchar(16)', (c) => c.notNull())
    .addColumn('explanation', 'text', (c) => c.notNull())
    .addColumn('victim_explanation', 'text', (c) => c.notNull())
    .addColumn('metrics', 'text', (c) => c.notNull())
    .addColumn('timings', 'text')
    .addColumn('evidence_path', 'text')
    .addColumn('error', 'text')
    .addColumn('received_at', 'varchar(30)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('recovery_events_at').on('recovery_events').column('at').execute();
  await db.schema.createIndex('recovery_events_job').on('recovery_events').column('job_id').execute();
  await db.schema.createIndex('recovery_events_user').on('recovery_events').column('user_name').execute();
}
