import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

// The status page (src/incidents/status/): each component's state changes, recorded when the
// server's evaluation (on each request and every status.evaluateEvery) finds a state different
// from the last one recorded. `checks_state` is the state from checks, hosts, groups and alerts
// alone: the page's uptime takes outages from it and from the incidents' own periods. A
// component's first row is where its history (and its uptime) starts.
export async function up(db: Kysely<unknown>, { idColumn }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('status_transitions')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('component', 'varchar(32)', (c) => c.notNull())
    .addColumn('at', 'varchar(30)', (c) => c.notNull())
    .addColumn('state', 'varchar(20)', (c) => c.notNull())
    .addColumn('checks_state', 'varchar(20)', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('status_transitions_component_at').on('status_transitions').columns(['component', 'at']).execute();
}
