import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

// Maintenance plans (src/ops/maint/) and recovery runbooks (src/ops/runbooks/). A plan keeps its
// targets and steps as JSON and the sha256 of their canonical form (`content_hash`); an approval
// binds the hash it was given for, and is void when the plan changes. `maint_step_runs` holds
// every attempt at a step: manual confirmations and the command steps queued for the agent on the
// target host (queued → running → passed/failed), with the captured output.
export async function up(db: Kysely<unknown>, { idColumn }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('maint_plans')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('title', 'varchar(200)', (c) => c.notNull())
    .addColumn('risk', 'varchar(8)', (c) => c.notNull())
    .addColumn('window_start', 'varchar(30)', (c) => c.notNull())
    .addColumn('window_end', 'varchar(30)', (c) => c.notNull())
    .addColumn('targets', 'text', (c) => c.notNull())
    .addColumn('steps', 'text', (c) => c.notNull())
    .addColumn('runbook', 'varchar(63)', (c) => c.notNull())
    .addColumn('author', 'varchar(64)', (c) => c.notNull())
    .addColumn('editors', 'text', (c) => c.notNull())
    .addColumn('state', 'varchar(20)', (c) => c.notNull())
    .addColumn('content_hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('revision', 'integer', (c) => c.notNull())
    .addColumn('next_step', 'integer', (c) => c.notNull())
    .addColumn('halt_reason', 'text')
    .addColumn('created_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('started_at', 'varchar(30)')
    .addColumn('finished_at', 'varchar(30)')
    .execute();
  await db.schema.createIndex('maint_plans_state').on('maint_plans').column('state').execute();
  await db.schema
    .createTable('maint_approvals')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('plan_id', 'integer', (c) => c.notNull())
    .addColumn('approver', 'varchar(64)', (c) => c.notNull())
    .addColumn('content_hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('comment', 'text', (c) => c.notNull())
    .addColumn('approved_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('expires_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('voided_at', 'varchar(30)')
    .addColumn('void_reason', 'text')
    .execute();
  await db.schema.createIndex('maint_approvals_plan').on('maint_approvals').column('plan_id').execute();
  await db.schema
    .createTable('maint_step_runs')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('plan_id', 'integer', (c) => c.notNull())
    .addColumn('step_index', 'integer', (c) => c.notNull())
    .addColumn('host', 'varchar(253)', (c) => c.notNull())
    .addColumn('kind', 'varchar(8)', (c) => c.notNull())
    .addColumn('command', 'text')
    .addColumn('state', 'varchar(10)', (c) => c.notNull())
    .addColumn('operator', 'varchar(64)', (c) => c.notNull())
    .addColumn('queued_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('claimed_at', 'varchar(30)')
    .addColumn('finished_at', 'varchar(30)')
    .addColumn('exit_code', 'integer')
    .addColumn('timed_out', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('output', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('verdict', 'text')
    .execute();
  await db.schema.createIndex('maint_step_runs_plan').on('maint_step_runs').column('plan_id').execute();
  await db.schema.createIndex('maint_step_runs_host_state').on('maint_step_runs').columns(['host', 'state']).execute();
  await db.schema
    .createTable('runbooks')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('name', 'varchar(63)', (c) => c.notNull().unique())
    .addColumn('service', 'varchar(63)', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('location', 'varchar(2000)')
    .addColumn('last_tested_at', 'varchar(30)')
    .addColumn('tested_by', 'varchar(64)')
    .addColumn('created_by', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(30)', (c) => c.notNull())
    .execute();
}
