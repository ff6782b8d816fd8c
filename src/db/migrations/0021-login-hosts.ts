import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

/**
 * Issue 10, login hosts behind one name:
 * - `workgroups.login_networks`: the networks (CIDR, JSON list of text) the workgroup's users may
 *   log in from; `[]` = anywhere.
 * - `login_host_drains`: login hosts an operator took out of the login pool by hand (beside hosts
 *   in a running maintenance plan), with why, by whom and when.
 */
export async function up(db: Kysely<unknown>, _context: MigrationContext): Promise<void> {
  await db.schema.alterTable('workgroups').addColumn('login_networks', 'text', (c) => c.notNull().defaultTo('[]')).execute();
  await db.schema
    .createTable('login_host_drains')
    .addColumn('host', 'varchar(253)', (c) => c.primaryKey())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('drained_by', 'varchar(64)', (c) => c.notNull())
    .addColumn('drained_at', 'varchar(30)', (c) => c.notNull())
    .execute();
}
