import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

// The batch system: queues, jobs (with their accounting), and in-app notifications.
// Sizes, durations and usage are `double precision`: exact for integers up to 2^53 on both
// engines, and returned by `pg` as numbers (bigint would come back as strings).
export async function up(db: Kysely<unknown>, { idColumn }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('queues')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('name', 'varchar(32)', (c) => c.notNull().unique())
    .addColumn('workgroup', 'varchar(32)')
    .addColumn('spec', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(30)', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('jobs')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('array_job_id', 'integer')
    .addColumn('array_task_id', 'integer')
    .addColumn('array_max_running', 'integer')
    .addColumn('user_name', 'varchar(32)', (c) => c.notNull())
    .addColumn('uid', 'integer', (c) => c.notNull())
    .addColumn('gid', 'integer', (c) => c.notNull())
    .addColumn('subgroup', 'varchar(32)', (c) => c.notNull())
    .addColumn('workgroup', 'varchar(32)', (c) => c.notNull())
    .addColumn('queue', 'varchar(32)', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('state', 'varchar(16)', (c) => c.notNull())
    .addColumn('held', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('script', 'text', (c) => c.notNull())
    .addColumn('args', 'text', (c) => c.notNull())
    .addColumn('cpus', 'integer', (c) => c.notNull())
    .addColumn('mem_bytes', 'double precision', (c) => c.notNull())
    .addColumn('gpus', 'integer', (c) => c.notNull())
    .addColumn('gpu_type', 'varchar(64)')
    .addColumn('time_limit_ms', 'double precision', (c) => c.notNull())
    .addColumn('eligible_at', 'varchar(30)')
    .addColumn('dependencies', 'text', (c) => c.notNull())
    .addColumn('submit_dir', 'text', (c) => c.notNull())
    .addColumn('chdir', 'text', (c) => c.notNull())
    .addColumn('output', 'text', (c) => c.notNull())
    .addColumn('error', 'text', (c) => c.notNull())
    .addColumn('env', 'text', (c) => c.notNull())
    .addColumn('mail', 'text', (c) => c.notNull())
    .addColumn('mail_user', 'text')
    .addColumn('submitted_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('started_at', 'varchar(30)')
    .addColumn('ended_at', 'varchar(30)')
    .addColumn('node', 'varchar(255)')
    .addColumn('gpu_indices', 'text')
    .addColumn('exit_code', 'integer')
    .addColumn('exit_signal', 'varchar(16)')
    .addColumn('reason', 'text')
    .addColumn('cpu_seconds', 'double precision')
    .addColumn('max_rss_bytes', 'double precision')
    .addColumn('gpu_seconds', 'double precision')
    .addColumn('transitions', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('jobs_state').on('jobs').column('state').execute();
  await db.schema.createIndex('jobs_user').on('jobs').columns(['user_name', 'id']).execute();
  await db.schema.createIndex('jobs_array').on('jobs').column('array_job_id').execute();
  await db.schema.createIndex('jobs_ended').on('jobs').column('ended_at').execute();

  await db.schema
    .createTable('notifications')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('user_name', 'varchar(32)', (c) => c.notNull())
    .addColumn('at', 'varchar(30)', (c) => c.notNull())
    .addColumn('kind', 'varchar(32)', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('read_at', 'varchar(30)')
    .execute();
  await db.schema.createIndex('notifications_user').on('notifications').columns(['user_name', 'id']).execute();
}
