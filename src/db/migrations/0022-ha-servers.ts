import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

/**
 * Issue 10, a controller that survives losing a server: `ha_servers`, one row per `keisan server`
 * of an HA set (keyed by its public URL): its role (active or standby), the epoch it took over in
 * (incremented on every takeover: the fencing token), when it last said it was alive, since when
 * it is active, and where it runs. The election itself is a PostgreSQL advisory lock; these rows
 * are what clients, agents and `keisan admin ha status` read.
 */
export async function up(db: Kysely<unknown>, _context: MigrationContext): Promise<void> {
  await db.schema
    .createTable('ha_servers')
    .addColumn('url', 'varchar(300)', (c) => c.primaryKey())
    .addColumn('role', 'varchar(10)', (c) => c.notNull())
    .addColumn('epoch', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('host', 'varchar(253)', (c) => c.notNull())
    .addColumn('pid', 'integer', (c) => c.notNull())
    .addColumn('started_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('heartbeat_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('active_since', 'varchar(30)')
    .execute();
}
