import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

/**
 * A job's state grows to 24 characters: `killed-by-recovery` (the recovery watchdog killed it)
 * does not fit the 16 of 0003. SQLite does not enforce varchar lengths, so only PostgreSQL changes.
 */
export async function up(db: Kysely<unknown>, context: MigrationContext): Promise<void> {
  if (context.dialect !== 'postgres') return;
  await db.schema
    .alterTable('jobs')
    .alterColumn('state', (column) => column.setDataType('varchar(24)'))
    .execute();
}
