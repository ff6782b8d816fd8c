import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

/**
 * A job run through SLURM (batch.executor: slurm) keeps SLURM's job id beside Keisan's: what the
 * executor follows in squeue and sacct, what a SLURM node's watchdog reports, what `keisan jobs`
 * shows. Null for jobs of the local executor.
 */
export async function up(db: Kysely<unknown>, _context: MigrationContext): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('external_id', 'varchar(64)').execute();
  await db.schema.createIndex('jobs_external_id').on('jobs').column('external_id').execute();
}
