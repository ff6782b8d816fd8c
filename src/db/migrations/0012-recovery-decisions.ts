import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

// Ask mode of the recovery watchdog (src/recovery/): one row per victim a node froze while an
// operator decides. The node's pending event makes it (state pending, its key and deadline); an
// operator's approve/deny or the node's follow-up (timed-out, ended) closes it, once.
export async function up(db: Kysely<unknown>, { idColumn }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('recovery_decisions')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('key', 'varchar(36)', (c) => c.notNull().unique())
    .addColumn('event_id', 'integer', (c) => c.notNull())
    .addColumn('host', 'varchar(255)', (c) => c.notNull())
    .addColumn('job_id', 'integer')
    .addColumn('pid', 'integer')
    .addColumn('user_name', 'varchar(255)')
    .addColumn('rule', 'varchar(32)', (c) => c.notNull())
    .addColumn('proposed', 'varchar(16)', (c) => c.notNull())
    .addColumn('frozen_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('deadline', 'varchar(30)', (c) => c.notNull())
    .addColumn('state', 'varchar(16)', (c) => c.notNull())
    .addColumn('decided_by', 'varchar(255)')
    .addColumn('decided_at', 'varchar(30)')
    .addColumn('reason', 'text')
    .execute();
  // One-use decision links sent to operators (e-mail, in-app, webhooks): only the SHA-256 of the
  // 256-bit random token is kept; the link expires at the decision's deadline.
  await db.schema
    .createTable('recovery_decision_links')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('decision_id', 'integer', (c) => c.notNull())
    .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('operator', 'varchar(255)', (c) => c.notNull())
    .addColumn('address', 'varchar(512)', (c) => c.notNull())
    .addColumn('expires_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('used_at', 'varchar(30)')
    .execute();
  // The ask fields of an event (JSON: key, deadline, proposed, decision, decidedBy, decidedAt, reason).
  await db.schema.alterTable('recovery_events').addColumn('ask', 'text').execute();
  await db.schema.createIndex('recovery_decisions_event').on('recovery_decisions').column('event_id').execute();
  await db.schema.createIndex('recovery_decisions_state').on('recovery_decisions').column('state').execute();
}
