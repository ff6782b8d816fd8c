import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

/**
 * Jobs that ran on the SLURM cluster behind Keisan without going through Keisan (sbatch straight
 * to SLURM), imported from sacct by `keisan admin slurm import-usage` so that usage reports cover
 * the whole cluster. One row per SLURM job (cluster, job id); a re-import updates it. Keisan's own
 * jobs (jobs.external_id) are not copied here: the executor accounts for them. Subgroup and
 * workgroup are the Keisan groups the SLURM account maps back to, null for accounts outside
 * Keisan's tree. Usage columns are `double precision` like the jobs table's.
 */
export async function up(db: Kysely<unknown>, { idColumn }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('slurm_usage')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('cluster', 'varchar(64)', (c) => c.notNull())
    .addColumn('job_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('user_name', 'varchar(64)', (c) => c.notNull())
    .addColumn('account', 'varchar(64)', (c) => c.notNull())
    .addColumn('subgroup', 'varchar(64)')
    .addColumn('workgroup', 'varchar(64)')
    .addColumn('partition', 'varchar(64)', (c) => c.notNull())
    .addColumn('qos', 'varchar(64)', (c) => c.notNull())
    .addColumn('state', 'varchar(20)', (c) => c.notNull())
    .addColumn('slurm_state', 'varchar(40)', (c) => c.notNull())
    .addColumn('exit_code', 'integer')
    .addColumn('submitted_at', 'varchar(30)')
    .addColumn('started_at', 'varchar(30)')
    .addColumn('ended_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('cpus', 'integer', (c) => c.notNull())
    .addColumn('gpus', 'integer', (c) => c.notNull())
    .addColumn('cpu_seconds', 'double precision', (c) => c.notNull())
    .addColumn('gpu_seconds', 'double precision', (c) => c.notNull())
    .addColumn('max_rss_bytes', 'double precision')
    .addColumn('node_list', 'text', (c) => c.notNull())
    .addColumn('imported_at', 'varchar(30)', (c) => c.notNull())
    .addUniqueConstraint('slurm_usage_cluster_job', ['cluster', 'job_id'])
    .execute();
  await db.schema.createIndex('slurm_usage_ended_at').on('slurm_usage').column('ended_at').execute();
}
