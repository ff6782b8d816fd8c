import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

// The hierarchical storage manager's own state (src/storage/hsm): classes of service and file
// families (seeded from keisan.yaml, then managed by operators), per-family archive usage kept
// incrementally, bulk stage requests with per-file state, repack jobs, and a record of HSM runs.
// Every piece of work in progress is here, so a restart after kill -9 resumes it.
// No foreign keys to the namespace tables: files may go while requests naming them remain.
export async function up(db: Kysely<unknown>, { idColumn }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('hsm_classes')
    .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('migration_delay_ms', 'double precision', (c) => c.notNull())
    .addColumn('copies', 'integer', (c) => c.notNull())
    .addColumn('purge_high_pct', 'double precision', (c) => c.notNull())
    .addColumn('purge_low_pct', 'double precision', (c) => c.notNull())
    .addColumn('staging', 'varchar(8)', (c) => c.notNull())
    .addColumn('workgroups', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(30)', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('hsm_families')
    .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('tree', 'varchar(4096)', (c) => c.notNull().unique())
    .addColumn('quota_warn_bytes', 'double precision')
    .addColumn('quota_limit_bytes', 'double precision')
    .addColumn('created_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(30)', (c) => c.notNull())
    .execute();

  // Archive usage per family (declared or implicit `<wg>.<sg>`), kept up to date by every
  // migration and deletion: never a full scan.
  await db.schema
    .createTable('hsm_family_usage')
    .addColumn('family', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('usage_bytes', 'double precision', (c) => c.notNull())
    .addColumn('usage_files', 'integer', (c) => c.notNull())
    .addColumn('quota_state', 'varchar(8)', (c) => c.notNull())
    .addColumn('warned_at', 'varchar(30)')
    .addColumn('updated_at', 'varchar(30)', (c) => c.notNull())
    .execute();

  // The archived generations counted in the usage: one row per (file, generation) from its
  // first archive copy until its last copy is removed, so deletions subtract exactly what
  // migrations added even after the file's row is gone.
  await db.schema
    .createTable('hsm_archived')
    .addColumn('file_id', 'integer', (c) => c.notNull())
    .addColumn('generation', 'integer', (c) => c.notNull())
    .addColumn('family', 'varchar(64)', (c) => c.notNull())
    .addColumn('size', 'double precision', (c) => c.notNull())
    .addColumn('created_at', 'varchar(30)', (c) => c.notNull())
    .addPrimaryKeyConstraint('hsm_archived_pk', ['file_id', 'generation'])
    .execute();

  // Archive copies found damaged (checksum mismatch, unreadable): never read again; the file is
  // marked dirty so migration writes the copy anew from a good disk copy.
  await db.schema
    .createTable('hsm_copy_problems')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('file_id', 'integer', (c) => c.notNull())
    .addColumn('generation', 'integer', (c) => c.notNull())
    .addColumn('copy_no', 'integer', (c) => c.notNull())
    .addColumn('volume', 'varchar(128)', (c) => c.notNull())
    .addColumn('entry', 'varchar(1024)', (c) => c.notNull())
    .addColumn('problem', 'text', (c) => c.notNull())
    .addColumn('detected_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('repaired_at', 'varchar(30)')
    .execute();
  await db.schema.createIndex('hsm_copy_problems_file').on('hsm_copy_problems').columns(['file_id', 'generation']).execute();

  await db.schema
    .createTable('hsm_stage_requests')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('owner', 'varchar(32)', (c) => c.notNull())
    .addColumn('state', 'varchar(12)', (c) => c.notNull())
    .addColumn('files_total', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('started_at', 'varchar(30)')
    .addColumn('completed_at', 'varchar(30)')
    .execute();
  await db.schema.createIndex('hsm_stage_requests_state').on('hsm_stage_requests').column('state').execute();

  // One row per file of a request; several requests for one file share the file's progress
  // (the engine updates every open row of that file at once).
  await db.schema
    .createTable('hsm_stage_files')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('request_id', 'varchar(40)', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('file_id', 'integer')
    .addColumn('state', 'varchar(16)', (c) => c.notNull())
    .addColumn('size', 'double precision', (c) => c.notNull())
    .addColumn('bytes_done', 'double precision', (c) => c.notNull())
    .addColumn('volume', 'varchar(128)')
    .addColumn('copy_no', 'integer')
    .addColumn('queue_position', 'integer')
    .addColumn('eta_at', 'varchar(30)')
    .addColumn('pin_until', 'varchar(30)')
    .addColumn('error', 'text')
    .addColumn('updated_at', 'varchar(30)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('hsm_stage_files_request').on('hsm_stage_files').columns(['request_id', 'seq']).execute();
  await db.schema.createIndex('hsm_stage_files_file').on('hsm_stage_files').columns(['file_id', 'state']).execute();
  await db.schema.createIndex('hsm_stage_files_state').on('hsm_stage_files').column('state').execute();

  await db.schema
    .createTable('hsm_repack_jobs')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('volume', 'varchar(128)', (c) => c.notNull())
    .addColumn('state', 'varchar(12)', (c) => c.notNull())
    .addColumn('files_total', 'integer', (c) => c.notNull())
    .addColumn('files_done', 'integer', (c) => c.notNull())
    .addColumn('bytes_total', 'double precision', (c) => c.notNull())
    .addColumn('bytes_done', 'double precision', (c) => c.notNull())
    .addColumn('error', 'text')
    .addColumn('created_by', 'varchar(32)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(30)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('hsm_repack_jobs_state').on('hsm_repack_jobs').column('state').execute();

  await db.schema
    .createTable('hsm_runs')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('state', 'varchar(12)', (c) => c.notNull())
    .addColumn('files', 'integer', (c) => c.notNull())
    .addColumn('bytes', 'double precision', (c) => c.notNull())
    .addColumn('detail', 'text', (c) => c.notNull())
    .addColumn('started_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('ended_at', 'varchar(30)')
    .execute();
  await db.schema.createIndex('hsm_runs_kind').on('hsm_runs').columns(['kind', 'id']).execute();
}
